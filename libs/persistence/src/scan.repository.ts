// The scans table, as far as a run touches it (the scan a run is started from), and the list of a user's scans
// with the filters the API offers on it.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { Scan, ScanResult } from './entities';
import { knexOf } from './sql';

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

/** Provided by PersistenceModule, created after the migrations. */
export class ScanRepository {
  constructor(private readonly em: EntityManager) {}

  /** The scan; throws MikroORM's NotFoundError when it does not exist. */
  findOrFail(scanId: number): Promise<Scan> {
    return this.em.fork().findOneOrFail(Scan, scanId);
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

  /** The latest run of each scan that has one, by scan id. */
  async latestRuns(scanIds: readonly number[]): Promise<Map<number, ScanResult>> {
    const latest = new Map<number, ScanResult>();
    if (scanIds.length === 0) return latest;
    const rows: Array<{ id: number | string }> = await knexOf(this.em)('scan_results')
      .max({ id: 'id' })
      .whereIn('scan_id', scanIds)
      .groupBy('scan_id');
    const runs = await this.em.fork().find(ScanResult, { id: { $in: rows.map((r) => Number(r.id)) } });
    for (const run of runs) latest.set(run.scan.id, run);
    return latest;
  }

  /** Ids of the owner's scans whose latest run is in the state (`idle`: no run at all). */
  private async idsInRunState(query: ScanListQuery & { runState: ScanRunState }): Promise<number[]> {
    const knex = knexOf(this.em);
    const runsOfScan = () => knex('scan_results as r').where('r.scan_id', knex.ref('s.id'));
    const scans = knex('scans as s').select('s.id').where('s.owner_id', query.ownerId);
    if (query.projectId !== undefined) scans.where('s.project_id', query.projectId);
    if (query.runState === 'idle') {
      scans.whereNotExists(runsOfScan().select(knex.raw('1')));
    } else {
      const statuses: string[] = query.runState === 'running' ? ['queued', 'running'] : [query.runState];
      const latestId = knex('scan_results as m').max('m.id').where('m.scan_id', knex.ref('s.id'));
      scans.whereExists(
        runsOfScan().select(knex.raw('1')).whereIn('r.status', statuses).whereIn('r.id', latestId),
      );
    }
    const rows: Array<{ id: number | string }> = await scans;
    return rows.map((row) => Number(row.id));
  }
}
