import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { Project } from './project.entity';
import { User } from './user.entity';

export const SCAN_RUNNERS = ['asyncio', 'multiprocessing'] as const;
export type ScanRunner = (typeof SCAN_RUNNERS)[number];

/** A scan definition: what to scan and how; each execution of it is a ScanResult. */
@Entity({ tableName: 'scans' })
@Index({ properties: ['owner'] })
@Index({ properties: ['project'] })
export class Scan {
  declare [OptionalProps]?:
    | 'description'
    | 'ports'
    | 'nmapFlags'
    | 'runner'
    | 'chunkSize'
    | 'concurrency'
    | 'intervalMinutes'
    | 'cron'
    | 'timezone'
    | 'isActive'
    | 'isScheduled'
    | 'isOneOff'
    | 'lastRun'
    | 'nextRun'
    | 'eventSeqReserved'
    | 'verifyChanges'
    | 'verifyDelaySeconds'
    | 'announceUnconfirmed'
    | 'flapWindow'
    | 'flapThreshold'
    | 'expectedPorts'
    | 'createdAt'
    | 'updatedAt';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne({ entity: () => User, deleteRule: 'cascade' })
  owner!: User;

  @ManyToOne({ entity: () => Project, deleteRule: 'cascade' })
  project!: Project;

  @Property({ type: 'string' })
  name!: string;

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Property({ type: 'json' })
  targets!: string[];

  @Property({ type: 'string', nullable: true })
  ports: string | null = null;

  @Property({ type: 'json' })
  nmapFlags: string[] = [];

  @Enum({ items: [...SCAN_RUNNERS], type: 'string', default: 'asyncio' })
  runner: ScanRunner = 'asyncio';

  @Property({ type: 'integer', default: 256 })
  chunkSize: number = 256;

  @Property({ type: 'integer', default: 6 })
  concurrency: number = 6;

  @Property({ type: 'integer', nullable: true })
  intervalMinutes: number | null = null;

  /** A calendar instead of interval_minutes: a 5-field cron expression, read in `timezone` (IANA, default UTC). */
  @Property({ type: 'string', nullable: true })
  cron: string | null = null;

  @Property({ type: 'string', nullable: true })
  timezone: string | null = null;

  @Property({ type: 'boolean', default: true })
  isActive: boolean = true;

  @Property({ type: 'boolean', default: false })
  isScheduled: boolean = false;

  /** Created by POST /api/scans/start rather than as a reusable definition. */
  @Property({ type: 'boolean', default: false })
  isOneOff: boolean = false;

  @Property({ type: 'datetime', nullable: true })
  lastRun: Date | null = null;

  @Property({ type: 'datetime', nullable: true })
  nextRun: Date | null = null;

  /**
   * Every event seq of this scan up to here may have been handed out (the Redis counter never passes it), so a
   * counter lost with Redis continues after it. Moved by ScanRepository.reserveEventSeqs only.
   */
  @Property({ type: 'integer', default: 0 })
  eventSeqReserved: number = 0;

  /**
   * A report with changes is confirmed by a rescan of exactly what changed before it is announced (docs/delta.md
   * "Verified changes"), `verifyDelaySeconds` after the run ended.
   */
  @Property({ type: 'boolean', default: true })
  verifyChanges: boolean = true;

  @Property({ type: 'integer', default: 30 })
  verifyDelaySeconds: number = 30;

  /** Announce changes the rescan did not confirm too (by default only confirmed ones are announced). */
  @Property({ type: 'boolean', default: false })
  announceUnconfirmed: boolean = false;

  /** Flapping (docs/delta.md "Flapping ports"): the runs read per port, and the changes within that flap. */
  @Property({ type: 'integer', default: 10 })
  flapWindow: number = 10;

  @Property({ type: 'integer', default: 3 })
  flapThreshold: number = 3;

  /**
   * The ports expected open, `{"*": ["tcp/22"], "127.0.9.5": ["tcp/80"]}` (@nso/delta's ExpectedPorts, in normal
   * form); null: none expected, no port is judged.
   */
  @Property({ type: 'json', nullable: true })
  expectedPorts: Record<string, string[]> | null = null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
