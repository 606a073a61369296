import {
  BigIntType,
  Entity,
  Enum,
  Index,
  ManyToOne,
  OptionalProps,
  PrimaryKey,
  Property,
} from '@mikro-orm/core';
import { SCAN_RUNNERS, Scan, type ScanRunner } from './scan.entity';

export const SCAN_RESULT_STATUSES = ['queued', 'running', 'completed', 'stopped', 'failed'] as const;
export type ScanResultStatus = (typeof SCAN_RESULT_STATUSES)[number];

/**
 * What started a run: POST /api/scans/start, GET /api/scans/{id}/execute, the scan's schedule, an imported nmap
 * XML (POST /api/scans/{id}/results/import), or the delta service confirming a report's changes (`verify`: a
 * rescan of the changed hosts and ports, never a delta baseline; docs/delta.md "Verified changes").
 */
export const RUN_TRIGGERS = ['api-start', 'execute', 'schedule', 'import', 'verify'] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

/** One run of a scan. Its settings are snapshotted so editing the definition never rewrites history. */
@Entity({ tableName: 'scan_results' })
@Index({ properties: ['scan', 'status'] })
export class ScanResult {
  declare [OptionalProps]?:
    | 'status'
    | 'trigger'
    | 'batchesDone'
    | 'batchesFailed'
    | 'hostsUp'
    | 'openPorts'
    | 'summaryStats'
    | 'resolvedNames'
    | 'delegation'
    | 'unassignedTargets'
    | 'error'
    | 'createdAt'
    | 'startedAt'
    | 'finishedAt';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne({ entity: () => Scan, deleteRule: 'cascade' })
  scan!: Scan;

  @Enum({ items: [...SCAN_RESULT_STATUSES], type: 'string', default: 'queued' })
  status: ScanResultStatus = 'queued';

  @Enum({ items: [...RUN_TRIGGERS], type: 'string', default: 'api-start' })
  trigger: RunTrigger = 'api-start';

  @Enum({ items: [...SCAN_RUNNERS], type: 'string' })
  runner!: ScanRunner;

  @Property({ type: 'json' })
  nmapFlags!: string[];

  @Property({ type: 'json' })
  targets!: string[];

  /**
   * The host names among `targets`, each with the addresses it was resolved to once, at submission:
   * `{"localhost": ["127.0.0.1"]}`. Batches are cut from these addresses; nmap never resolves a name itself.
   * Null for runs stored before names were resolved at submission.
   */
  @Property({ type: 'json', nullable: true })
  resolvedNames: Record<string, string[]> | null = null;

  /**
   * Which scanner clients scan which addresses (docs/clients.md, delegation): parts of `{clients, ranges}`, each
   * a group of client ids sharing the CIDRs it owns; batches are cut from the parts one after the other. Null
   * for runs stored before delegation (scanned by the `local` pool).
   */
  @Property({ type: 'json', nullable: true })
  delegation: Array<{ clients: string[]; ranges: string[] }> | null = null;

  /**
   * The run's addresses no approved, online client covered when it started, as CIDRs (a single address bare):
   * they were not scanned. Null or empty when every address was delegated.
   */
  @Property({ type: 'json', nullable: true })
  unassignedTargets: string[] | null = null;

  @Property({ type: 'integer' })
  chunkSize!: number;

  @Property({ type: 'integer' })
  concurrency!: number;

  /** A /8 alone expands to 16,777,216 addresses: stored as bigint, read back as a JS number. */
  @Property({ type: new BigIntType('number') })
  targetsTotal!: number;

  @Property({ type: 'integer' })
  batchesTotal!: number;

  @Property({ type: 'integer', default: 0 })
  batchesDone: number = 0;

  @Property({ type: 'integer', default: 0 })
  batchesFailed: number = 0;

  @Property({ type: 'integer', default: 0 })
  hostsUp: number = 0;

  @Property({ type: 'integer', default: 0 })
  openPorts: number = 0;

  @Property({ type: 'json', nullable: true })
  summaryStats: Record<string, unknown> | null = null;

  @Property({ type: 'text', nullable: true })
  error: string | null = null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', nullable: true })
  startedAt: Date | null = null;

  @Property({ type: 'datetime', nullable: true })
  finishedAt: Date | null = null;
}
