// The schedule_fires table: one row per fire of a scan's schedule. A fire that starts a run is written in the
// run's own transaction (RunRepository.insert calls insertStartedFire), so a fire delivered twice starts one run;
// a fire that starts nothing is recorded here with the reason.
import type { EntityManager } from '@mikro-orm/core';
import { ScheduleFire } from './entities';
import { isUniqueViolation, knexOf, type Knex } from './sql';

/** One fire of a scan's schedule: its BullMQ job id, and when it was due. */
export interface FireInput {
  key: string;
  dueAt: Date;
}

/** The fire was recorded before: BullMQ delivered it again (a worker died while handling it). */
export class DuplicateFireError extends Error {
  override readonly name = 'DuplicateFireError';
}

/** Writes the row of a fire that started run `resultId`, inside the run's transaction; DuplicateFireError if known. */
export async function insertStartedFire(
  trx: Knex.Transaction,
  input: FireInput & { scanId: number; resultId: number; firedAt: Date },
): Promise<void> {
  try {
    await trx('schedule_fires').insert({
      scan_id: input.scanId,
      fire_key: input.key,
      due_at: input.dueAt,
      fired_at: input.firedAt,
      outcome: 'started',
      result_id: input.resultId,
    });
  } catch (error) {
    // The unique (scan, fire) row makes a fire start one run, however often it is delivered.
    if (isUniqueViolation(error)) throw new DuplicateFireError(`fire ${input.key} was handled before`);
    throw error;
  }
}

/** Provided by PersistenceModule, created after the migrations. */
export class ScheduleFireRepository {
  constructor(private readonly em: EntityManager) {}

  /** Records a fire that started no run, and why; a fire recorded before is left as it was. */
  async recordSkipped(input: FireInput & { scanId: number; reason: string }): Promise<void> {
    await knexOf(this.em)('schedule_fires')
      .insert({
        scan_id: input.scanId,
        fire_key: input.key,
        due_at: input.dueAt,
        fired_at: new Date(),
        outcome: 'skipped',
        reason: input.reason.slice(0, 1000),
      })
      .onConflict(['scan_id', 'fire_key'])
      .ignore();
  }

  /** The scan's latest fires, newest first. */
  recent(scanId: number, limit: number): Promise<ScheduleFire[]> {
    return this.em.fork().find(ScheduleFire, { scan: scanId }, { orderBy: { id: 'desc' }, limit });
  }

  /** When the scan's latest fire was due (started or skipped), or null when it never fired. */
  async lastDueAt(scanId: number): Promise<Date | null> {
    const row: { due_at: string | Date } | undefined = await knexOf(this.em)('schedule_fires')
      .where('scan_id', scanId)
      .orderBy('due_at', 'desc')
      .first('due_at');
    return row ? new Date(row.due_at) : null;
  }

  /** How many of the scan's fires were skipped. */
  countSkipped(scanId: number): Promise<number> {
    return this.em.fork().count(ScheduleFire, { scan: scanId, outcome: 'skipped' });
  }
}
