import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { ScanResult } from './scan-result.entity';
import { Scan } from './scan.entity';

export const DELTA_REPORT_STATUSES = ['generated'] as const;
export type DeltaReportStatus = (typeof DELTA_REPORT_STATUSES)[number];
export const DELTA_REPORT_TYPES = ['delta'] as const;
export type DeltaReportType = (typeof DELTA_REPORT_TYPES)[number];

/**
 * A delta report of seed 003: what changed between a run (`current`) and the latest earlier completed run of the
 * same scan (`baseline`). Unique per (baseline, current), so a diff job delivered twice stores one report. The
 * counts are columns (lists filter and sum them); the lists themselves are in `deltaData` (docs/delta.md).
 */
@Entity({ tableName: 'delta_reports' })
@Unique({ properties: ['baselineResult', 'currentResult'] })
@Index({ properties: ['scan', 'createdAt'] })
export class DeltaReport {
  declare [OptionalProps]?:
    | 'status'
    | 'reportType'
    | 'newPortsCount'
    | 'closedPortsCount'
    | 'changedServicesCount'
    | 'newHostsCount'
    | 'removedHostsCount'
    | 'hasChanges'
    | 'confirmedNewPortsCount'
    | 'confirmedClosedPortsCount'
    | 'confirmedChangedServicesCount'
    | 'confirmedNewHostsCount'
    | 'confirmedRemovedHostsCount'
    | 'flappingCount'
    | 'createdAt';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne({ entity: () => Scan, deleteRule: 'cascade' })
  scan!: Scan;

  @ManyToOne({ entity: () => ScanResult, deleteRule: 'cascade' })
  baselineResult!: ScanResult;

  @ManyToOne({ entity: () => ScanResult, deleteRule: 'cascade' })
  currentResult!: ScanResult;

  @Enum({ items: [...DELTA_REPORT_TYPES], type: 'string', default: 'delta' })
  reportType: DeltaReportType = 'delta';

  @Enum({ items: [...DELTA_REPORT_STATUSES], type: 'string', default: 'generated' })
  status: DeltaReportStatus = 'generated';

  @Property({ type: 'integer', default: 0 })
  newPortsCount: number = 0;

  @Property({ type: 'integer', default: 0 })
  closedPortsCount: number = 0;

  @Property({ type: 'integer', default: 0 })
  changedServicesCount: number = 0;

  @Property({ type: 'integer', default: 0 })
  newHostsCount: number = 0;

  @Property({ type: 'integer', default: 0 })
  removedHostsCount: number = 0;

  @Property({ type: 'boolean', default: false })
  hasChanges: boolean = false;

  /**
   * Whether the changes were confirmed by a rescan (docs/delta.md "Verified changes"): null when they were not
   * (no changes, verification off, an imported run), `pending` until the rescan's verdicts are in, then `done`.
   */
  @Property({ type: 'string', nullable: true })
  verificationStatus: 'pending' | 'done' | null = null;

  /** The confirmation run (trigger `verify`); a plain id. */
  @Index()
  @Property({ type: 'integer', nullable: true })
  verifyResultId: number | null = null;

  /** The seed's counts again, of the changes the rescan confirmed (equal to them when not verified). */
  @Property({ type: 'integer', default: 0 })
  confirmedNewPortsCount: number = 0;

  @Property({ type: 'integer', default: 0 })
  confirmedClosedPortsCount: number = 0;

  @Property({ type: 'integer', default: 0 })
  confirmedChangedServicesCount: number = 0;

  @Property({ type: 'integer', default: 0 })
  confirmedNewHostsCount: number = 0;

  @Property({ type: 'integer', default: 0 })
  confirmedRemovedHostsCount: number = 0;

  /** Port changes of flapping ports (docs/delta.md "Flapping ports"): listed, counted in the seed's counts, never announced. */
  @Property({ type: 'integer', default: 0 })
  flappingCount: number = 0;

  /** `{scanner, baseline, current, delta, summary}` (docs/delta.md). */
  @Property({ type: 'json' })
  deltaData!: Record<string, unknown>;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  /**
   * When the report was announced (`delta_report` event, the owner's notification, webhook deliveries); null while
   * that is owed, e.g. after a Redis error or a crash right after the report was stored. A retried diff job or the
   * delta service's start-up sweep announces it then.
   */
  @Property({ type: 'datetime', nullable: true })
  announcedAt?: Date | null;
}
