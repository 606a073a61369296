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
