// The rows a scan start writes: the scan and its first run, in one transaction, through knex (sql.ts) because
// this is on the path of every POST /api/scans/start. The e2e specs read them back through the entities.
import type { EntityManager } from '@mikro-orm/core';
import type { RunTrigger, ScanRunner } from './entities';
import { idOf, isUniqueViolation, json, knexOf } from './sql';

export interface OneOffScanInput {
  ownerId: number;
  projectId: number;
  name: string;
  targets: string[];
  /** Each host name among the targets with the addresses it was resolved to (see ScanResult.resolvedNames). */
  resolvedNames: Record<string, string[]>;
  nmapFlags: string[];
  runner: ScanRunner;
  chunkSize: number;
  concurrency: number;
  targetsTotal: number;
  batchesTotal: number;
}

/** Stores a one-off scan (POST /api/scans/start) and its queued run; returns both ids. */
export async function insertOneOffScan(
  em: EntityManager,
  input: OneOffScanInput,
): Promise<{ scanId: number; resultId: number }> {
  const now = new Date();
  const targets = json(input.targets);
  const nmapFlags = json(input.nmapFlags);
  const settings = { runner: input.runner, chunk_size: input.chunkSize, concurrency: input.concurrency };
  return knexOf(em).transaction(async (trx) => {
    const [scan] = await trx('scans').insert(
      {
        owner_id: input.ownerId,
        project_id: input.projectId,
        name: input.name,
        description: null,
        targets,
        ports: null,
        nmap_flags: nmapFlags,
        ...settings,
        interval_minutes: null,
        is_active: true,
        is_scheduled: false,
        is_one_off: true,
        last_run: now,
        next_run: null,
        created_at: now,
        updated_at: now,
      },
      ['id'],
    );
    const scanId = idOf(scan);
    const [result] = await trx('scan_results').insert(
      {
        scan_id: scanId,
        status: 'queued',
        nmap_flags: nmapFlags,
        targets,
        resolved_names: json(input.resolvedNames),
        ...settings,
        targets_total: input.targetsTotal,
        batches_total: input.batchesTotal,
        created_at: now,
      },
      ['id'],
    );
    return { scanId, resultId: idOf(result) };
  });
}

export interface RunInput {
  scanId: number;
  trigger: RunTrigger;
  targets: string[];
  resolvedNames: Record<string, string[]>;
  nmapFlags: string[];
  runner: ScanRunner;
  chunkSize: number;
  concurrency: number;
  targetsTotal: number;
  batchesTotal: number;
  /** The schedule fire that starts this run: its row is written in the same transaction. */
  fire?: FireInput;
}

/** One fire of a scan's schedule (BullMQ job id, and when it was due). */
export interface FireInput {
  key: string;
  dueAt: Date;
}

/** The fire was recorded before: BullMQ delivered it again (a worker died while handling it). */
export class DuplicateFireError extends Error {
  override readonly name = 'DuplicateFireError';
}

/**
 * Stores a queued run of a stored scan (execute, schedule) with its settings snapshotted, and marks the scan's
 * last_run; returns the run's id. With `fire`, throws DuplicateFireError (nothing stored) when that fire was
 * recorded before.
 */
export async function insertRun(em: EntityManager, input: RunInput): Promise<number> {
  const now = new Date();
  return knexOf(em).transaction(async (trx) => {
    const [result] = await trx('scan_results').insert(
      {
        scan_id: input.scanId,
        status: 'queued',
        trigger: input.trigger,
        nmap_flags: json(input.nmapFlags),
        targets: json(input.targets),
        resolved_names: json(input.resolvedNames),
        runner: input.runner,
        chunk_size: input.chunkSize,
        concurrency: input.concurrency,
        targets_total: input.targetsTotal,
        batches_total: input.batchesTotal,
        created_at: now,
      },
      ['id'],
    );
    const resultId = idOf(result);
    if (input.fire) {
      try {
        await trx('schedule_fires').insert({
          scan_id: input.scanId,
          fire_key: input.fire.key,
          due_at: input.fire.dueAt,
          fired_at: now,
          outcome: 'started',
          result_id: resultId,
        });
      } catch (error) {
        // The unique (scan, fire) row makes a fire start one run, however often it is delivered.
        if (isUniqueViolation(error))
          throw new DuplicateFireError(`fire ${input.fire.key} was handled before`);
        throw error;
      }
    }
    await trx('scans').where({ id: input.scanId }).update({ last_run: now });
    return resultId;
  });
}

/** Records a fire that started no run, and why; a fire recorded before is left as it was. */
export async function recordSkippedFire(
  em: EntityManager,
  input: FireInput & { scanId: number; reason: string },
): Promise<void> {
  await knexOf(em)('schedule_fires')
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
