import { Entity, Enum, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { ScanResult } from './scan-result.entity';

export const BATCH_STATUSES = ['pending', 'running', 'completed', 'failed', 'stopped'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** One chunk of a run's targets: one queue job, one nmap process. */
@Entity({ tableName: 'batches' })
@Unique({ properties: ['result', 'seq'] })
export class Batch {
  declare [OptionalProps]?:
    | 'status'
    | 'attempts'
    | 'workerId'
    | 'startedAt'
    | 'finishedAt'
    | 'exitCode'
    | 'stderr'
    | 'hostsUp'
    | 'openPorts'
    | 'createdAt';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne({ entity: () => ScanResult, deleteRule: 'cascade' })
  result!: ScanResult;

  /** 1-based number of the batch within its run; the `batch_id` of WebSocket events. */
  @Property({ type: 'integer' })
  seq!: number;

  @Property({ type: 'json' })
  targets!: string[];

  @Enum({ items: [...BATCH_STATUSES], type: 'string', default: 'pending' })
  status: BatchStatus = 'pending';

  @Property({ type: 'integer', default: 0 })
  attempts: number = 0;

  @Property({ type: 'string', nullable: true })
  workerId: string | null = null;

  @Property({ type: 'datetime', nullable: true })
  startedAt: Date | null = null;

  @Property({ type: 'datetime', nullable: true })
  finishedAt: Date | null = null;

  @Property({ type: 'integer', nullable: true })
  exitCode: number | null = null;

  @Property({ type: 'text', nullable: true })
  stderr: string | null = null;

  @Property({ type: 'integer', default: 0 })
  hostsUp: number = 0;

  @Property({ type: 'integer', default: 0 })
  openPorts: number = 0;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
