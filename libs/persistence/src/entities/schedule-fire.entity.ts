import { Entity, Enum, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { Scan } from './scan.entity';

export const FIRE_OUTCOMES = ['started', 'skipped'] as const;
export type FireOutcome = (typeof FIRE_OUTCOMES)[number];

/**
 * One fire of a scan's schedule (a BullMQ job scheduler's job): whether it started a run or was skipped, and
 * why. Unique per (scan, fire_key), so a fire that BullMQ delivers twice starts one run.
 */
@Entity({ tableName: 'schedule_fires' })
@Unique({ properties: ['scan', 'fireKey'] })
export class ScheduleFire {
  declare [OptionalProps]?: 'reason' | 'resultId';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne({ entity: () => Scan, deleteRule: 'cascade' })
  scan!: Scan;

  @Property({ type: 'string' })
  fireKey!: string;

  /** When the schedule meant this fire to happen. */
  @Property({ type: 'datetime' })
  dueAt!: Date;

  @Property({ type: 'datetime' })
  firedAt!: Date;

  @Enum({ items: [...FIRE_OUTCOMES], type: 'string' })
  outcome!: FireOutcome;

  @Property({ type: 'text', nullable: true })
  reason: string | null = null;

  @Property({ type: 'integer', nullable: true })
  resultId: number | null = null;
}
