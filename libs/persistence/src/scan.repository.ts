// The scan aggregate: the `scans` table and its `schedule_fires`. Every write of either table is in this file:
// the definitions users create and edit, next_run and the event seq reservations through ScanRepository, and the
// rows a run's transaction writes (the one-off scan, last_run, the fire that started the run) through the
// transaction-scoped functions at the end, which RunRepository calls inside its own transaction.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { Project, Scan, ScheduleFire, type ScanRunner } from './entities';
import { idOf, isUniqueViolation, json, knexOf, type Knex } from './sql';

/**
 * A scan's state as its latest run tells it: `running` (that run is queued or running: what a stop would end),
 * `completed`, `stopped`, `failed`, or `idle` (it never ran).
 */
export const SCAN_RUN_STATES = ['running', 'completed', 'stopped', 'failed', 'idle'] as const;
export type ScanRunState = (typeof SCAN_RUN_STATES)[number];

/** GET /api/scans: one owner's scans, each filter optional, a page of them newest first. */
export interface ScanListQuery {
  ownerId: number;
  isActive?: boolean;
  isScheduled?: boolean;
  projectId?: number;
  runState?: ScanRunState;
  limit: number;
  offset: number;
}

/**
 * The fields of a scan definition its owner sets (POST and PUT /api/scans). `targets` and `nmapFlags` are stored
 * as given; `intervalMinutes` is in schedule minutes; `cron` is read in `timezone` (IANA, null: UTC).
 */
export interface ScanDefinitionFields {
  projectId: number;
  name: string;
  description: string | null;
  targets: string[];
  ports: string | null;
  nmapFlags: string[];
  runner: ScanRunner;
  chunkSize: number;
  concurrency: number;
  intervalMinutes: number | null;
  cron: string | null;
  timezone: string | null;
  isActive: boolean;
  isScheduled: boolean;
  /** Issue 21 (docs/delta.md): confirmation rescans, flapping, expected ports. Absent: the column's default. */
  verifyChanges?: boolean;
  verifyDelaySeconds?: number;
  announceUnconfirmed?: boolean;
  flapWindow?: number;
  flapThreshold?: number;
  expectedPorts?: Record<string, string[]> | null;
}

/** A new definition (ScanRepository.create): its fields and its owner. */
export interface NewScanDefinition extends ScanDefinitionFields {
  ownerId: number;
}

/** A change of a definition (ScanRepository.update): only the fields given change. */
export type ScanDefinitionPatch = Partial<ScanDefinitionFields>;

/** One fire of a scan's schedule: its BullMQ job id, and when it was due. */
export interface FireInput {
  key: string;
  dueAt: Date;
}

/** The fire was recorded before: BullMQ delivered it again (a worker died while handling it). */
export class DuplicateFireError extends Error {
  override readonly name = 'DuplicateFireError';
}

/** A block of event seqs: every seq in (after, upTo] is the caller's to hand out. */
export interface ScanEventSeqBlock {
  after: number;
  upTo: number;
}

/** Provided by PersistenceModule, created after the migrations. The only writer of `scans` and `schedule_fires`. */
export class ScanRepository {
  constructor(private readonly em: EntityManager) {}

  /** The scan; throws MikroORM's NotFoundError (isNotFoundError) when it does not exist. */
  findOrFail(scanId: number): Promise<Scan> {
    return this.em.fork().findOneOrFail(Scan, scanId);
  }

  /** The scan, or null when it does not exist. */
  find(scanId: number): Promise<Scan | null> {
    return this.em.fork().findOne(Scan, scanId);
  }

  /** The scan when `ownerId` owns it, else null (another user's scan is not found either). */
  findOwned(ownerId: number, scanId: number): Promise<Scan | null> {
    return this.em.fork().findOne(Scan, { id: scanId, owner: ownerId });
  }

  /** Those of `scanIds` that `ownerId` owns, ascending (a filter naming scans checks them with this). */
  async ownedIds(ownerId: number, scanIds: readonly number[]): Promise<number[]> {
    if (scanIds.length === 0) return [];
    const scans = await this.em
      .fork()
      .find(Scan, { id: { $in: [...scanIds] }, owner: ownerId }, { fields: ['id'], orderBy: { id: 'asc' } });
    return scans.map((scan) => scan.id);
  }

  /** Ids of the scans that are active and scheduled (those that should have a job scheduler), ascending. */
  async scheduledIds(): Promise<number[]> {
    const scans = await this.em
      .fork()
      .find(Scan, { isActive: true, isScheduled: true }, { fields: ['id'], orderBy: { id: 'asc' } });
    return scans.map((scan) => scan.id);
  }

  /**
   * A page of the owner's scans matching every filter given, newest first, and how many match in all. The run
   * state is the latest run's (the highest id: a scan runs once at a time, so an active run is its latest), read
   * by one correlated sub-query over the (scan_id, status) index.
   */
  async list(query: ScanListQuery): Promise<[Scan[], number]> {
    const where: FilterQuery<Scan> = { owner: query.ownerId };
    if (query.isActive !== undefined) where.isActive = query.isActive;
    if (query.isScheduled !== undefined) where.isScheduled = query.isScheduled;
    if (query.projectId !== undefined) where.project = query.projectId;
    if (query.runState !== undefined)
      where.id = { $in: await this.idsInRunState({ ...query, runState: query.runState }) };
    return this.em.fork().findAndCount(Scan, where, {
      orderBy: { id: 'desc' },
      limit: query.limit,
      offset: query.offset,
    });
  }

  /** Stores a new definition (not one-off, never run) and returns it with its id and timestamps. */
  async create(input: NewScanDefinition): Promise<Scan> {
    const em = this.em.fork();
    const { ownerId, projectId, ...fields } = input;
    const scan = em.create(Scan, { owner: ownerId, project: projectId, ...fields });
    await em.flush();
    return scan;
  }

  /**
   * Changes the fields given of the definition and returns it as stored; updated_at moves only when a value
   * changed. Throws NotFoundError (isNotFoundError) when the scan does not exist.
   */
  async update(scanId: number, patch: ScanDefinitionPatch): Promise<Scan> {
    const em = this.em.fork();
    const scan = await em.findOneOrFail(Scan, scanId);
    const { projectId, ...fields } = patch;
    if (projectId !== undefined) scan.project = em.getReference(Project, projectId);
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) (scan as unknown as Record<string, unknown>)[key] = value;
    }
    await em.flush();
    return scan;
  }

  /** Stores when the scan's schedule fires next (null: it does not). */
  async setNextRun(scanId: number, nextRun: Date | null): Promise<void> {
    await this.em.fork().nativeUpdate(Scan, { id: scanId }, { nextRun });
  }

  /**
   * Reserves the next `count` event seqs of a scan: one UPDATE … RETURNING, so concurrent callers (workers,
   * gateways) get disjoint blocks. `after` is the highest seq anyone could have been given before this call.
   * Throws when `count` is not a positive integer, or when the scan does not exist (deleted: its events have no
   * one to go to). Redis hands the seqs out; this durable reservation keeps them rising after Redis lost its
   * counter.
   */
  async reserveEventSeqs(scanId: number, count: number): Promise<ScanEventSeqBlock> {
    if (!Number.isSafeInteger(count) || count < 1) throw new Error(`cannot reserve ${count} seqs`);
    const knex = knexOf(this.em);
    const rows: Array<{ event_seq_reserved: number | string }> = await knex('scans')
      .where({ id: scanId })
      .update({ event_seq_reserved: knex.raw('event_seq_reserved + ?', [count]) }, ['event_seq_reserved']);
    if (rows.length === 0) throw new Error(`scan ${scanId} does not exist`);
    const upTo = Number(rows[0].event_seq_reserved);
    return { after: upTo - count, upTo };
  }

  /** Records a fire that started no run, and why (cut to 1000 characters); a fire recorded before is left as is. */
  async recordSkippedFire(input: FireInput & { scanId: number; reason: string }): Promise<void> {
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

  /** The scan's latest `limit` fires (started or skipped), newest first. */
  recentFires(scanId: number, limit: number): Promise<ScheduleFire[]> {
    return this.em.fork().find(ScheduleFire, { scan: scanId }, { orderBy: { id: 'desc' }, limit });
  }

  /** When the scan's latest fire was due (started or skipped), or null when it never fired. */
  async lastFireDueAt(scanId: number): Promise<Date | null> {
    const row: { due_at: string | Date } | undefined = await knexOf(this.em)('schedule_fires')
      .where('scan_id', scanId)
      .orderBy('due_at', 'desc')
      .first('due_at');
    return row ? new Date(row.due_at) : null;
  }

  /** How many of the scan's fires were skipped. */
  countSkippedFires(scanId: number): Promise<number> {
    return this.em.fork().count(ScheduleFire, { scan: scanId, outcome: 'skipped' });
  }

  /** Ids of the owner's scans whose latest run (not a `verify` rescan) is in the state (`idle`: no run at all). */
  private async idsInRunState(query: ScanListQuery & { runState: ScanRunState }): Promise<number[]> {
    const knex = knexOf(this.em);
    const runsOfScan = () => knex('scan_results as r').where('r.scan_id', knex.ref('s.id'));
    const scans = knex('scans as s').select('s.id').where('s.owner_id', query.ownerId);
    if (query.projectId !== undefined) scans.where('s.project_id', query.projectId);
    if (query.runState === 'idle') {
      scans.whereNotExists(runsOfScan().select(knex.raw('1')));
    } else {
      const statuses: string[] = query.runState === 'running' ? ['queued', 'running'] : [query.runState];
      const latestId = knex('scan_results as m')
        .max('m.id')
        .where('m.scan_id', knex.ref('s.id'))
        .andWhereNot('m.trigger', 'verify');
      scans.whereExists(
        runsOfScan().select(knex.raw('1')).whereIn('r.status', statuses).whereIn('r.id', latestId),
      );
    }
    const rows: Array<{ id: number | string }> = await scans;
    return rows.map((row) => Number(row.id));
  }
}

// ---- Inside a run's transaction (RunRepository): the scan rows a run writes, with the run's own rows. ----

/** The one-off scan of POST /api/scans/start (RunRepository.insertOneOff). */
export interface OneOffScanRow {
  ownerId: number;
  projectId: number;
  name: string;
  targets: string[];
  nmapFlags: string[];
  runner: ScanRunner;
  chunkSize: number;
  concurrency: number;
}

/** Writes a one-off scan (active, unscheduled, last_run `now`) in `trx`; returns its id. */
export async function insertOneOffScan(
  trx: Knex.Transaction,
  input: OneOffScanRow,
  now: Date,
): Promise<number> {
  const [scan] = await trx('scans').insert(
    {
      owner_id: input.ownerId,
      project_id: input.projectId,
      name: input.name,
      description: null,
      targets: json(input.targets),
      ports: null,
      nmap_flags: json(input.nmapFlags),
      runner: input.runner,
      chunk_size: input.chunkSize,
      concurrency: input.concurrency,
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
  return idOf(scan);
}

/** Marks in `trx` that a run of the scan started at `at` (its last_run). */
export async function markScanRun(trx: Knex.Transaction, scanId: number, at: Date): Promise<void> {
  await trx('scans').where({ id: scanId }).update({ last_run: at });
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
