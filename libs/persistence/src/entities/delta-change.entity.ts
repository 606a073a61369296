import { Entity, Enum, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { DeltaReport } from './delta-report.entity';

/** The kinds of change row, in the order a report's lists are stored (mirrors @nso/delta's DELTA_CHANGE_KINDS). */
export const DELTA_CHANGE_KIND_VALUES = [
  'new_up_host',
  'new_down_host',
  'added_port',
  'removed_port',
  'changed_port',
  'unverified_host',
  'unverified_port',
] as const;

/**
 * One entry of a delta report's change lists (docs/delta.md "Storage"). `seq` numbers a report's entries from 1
 * in list order; (report, seq) is unique and is the key the CSV export pages on, so a report with 100,000
 * changes is read a page at a time and never whole. `before`/`after` hold what the baseline/current run saw,
 * `detail` the rest (a changed port's `changed`, an unverified entry's `reason`). Written with its report in one
 * transaction by the delta service, with knex (batched inserts), and read with knex: no entity is built per row.
 */
@Entity({ tableName: 'delta_changes' })
@Unique({ properties: ['report', 'seq'] })
export class DeltaChange {
  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne({ entity: () => DeltaReport, deleteRule: 'cascade' })
  report!: DeltaReport;

  @Property({ type: 'integer' })
  seq!: number;

  @Enum({ items: [...DELTA_CHANGE_KIND_VALUES], type: 'string' })
  kind!: (typeof DELTA_CHANGE_KIND_VALUES)[number];

  @Property({ type: 'string' })
  address!: string;

  @Property({ type: 'string', nullable: true })
  protocol: string | null = null;

  @Property({ type: 'integer', nullable: true })
  port: number | null = null;

  @Property({ type: 'json', nullable: true })
  before: Record<string, unknown> | null = null;

  @Property({ type: 'json', nullable: true })
  after: Record<string, unknown> | null = null;

  @Property({ type: 'json', nullable: true })
  detail: Record<string, unknown> | null = null;

  /** The rescan's verdict (docs/delta.md "Verified changes"); null while pending or when not verified. */
  @Property({ type: 'string', nullable: true })
  verification: 'confirmed' | 'not_confirmed' | 'unverifiable' | null = null;

  /** A change of a flapping port (docs/delta.md "Flapping ports"): listed, never announced. */
  @Property({ type: 'boolean', default: false })
  flapping: boolean = false;

  /** Against the scan's expected ports: an open port `expected`/`unexpected`, an expected one gone `missing`. */
  @Property({ type: 'string', nullable: true })
  exposure: 'expected' | 'unexpected' | 'missing' | null = null;

  /** Who accepted the change (POST /api/report/{id}/accept) and when; a plain user id. */
  @Property({ type: 'datetime', nullable: true })
  acceptedAt: Date | null = null;

  @Property({ type: 'integer', nullable: true })
  acceptedBy: number | null = null;
}
