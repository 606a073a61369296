// Read model of runs for the lists and summaries users browse: a scan's runs and their counts, one run's hosts,
// ports and batches, one address across runs, and what a run's results summary is made of. Reads only; the rows
// are written by RunRepository, BatchRepository and ScanRepository.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { Batch, Host, Port, ScanResult, type BatchStatus } from './entities';
import { execute, isPostgres, knexOf } from './sql';

/** A page: at most `limit` rows after skipping `offset`. */
export interface RowWindow {
  limit: number;
  offset: number;
}

/** How many runs a scan has: all of them, the completed ones, and the finished ones (completed or failed). */
export interface ScanRunCounts {
  runs: number;
  completed: number;
  finished: number;
}

/** GET /api/results/{id}: which of the run's hosts to list. */
export interface RunHostFilter {
  /** Hosts in this state only. */
  hostState?: string;
  /** Hosts with a port in this state only. */
  portState?: string;
}

/** What a run's results summary is computed from: the run's totals and its batch rows. */
export interface RunSummaryRows {
  run: Pick<ScanResult, 'targetsTotal' | 'openPorts' | 'hostsUp' | 'delegation'>;
  /** Each batch row's status, worker and how many targets it holds (counted by the database). */
  batches: Array<{ status: BatchStatus; workerId: string | null; targetCount: number }>;
}

/** Provided by PersistenceModule, created after the migrations. */
export class RunQueries {
  constructor(private readonly em: EntityManager) {}

  /**
   * The latest run (highest id) of each scan that has one, by scan id. Confirmation rescans (trigger `verify`)
   * are the delta service's own and left out: a scan's state is its own runs'.
   */
  async latestRuns(scanIds: readonly number[]): Promise<Map<number, ScanResult>> {
    const latest = new Map<number, ScanResult>();
    if (scanIds.length === 0) return latest;
    const rows: Array<{ id: number | string }> = await knexOf(this.em)('scan_results')
      .max({ id: 'id' })
      .whereIn('scan_id', scanIds)
      .andWhereNot('trigger', 'verify')
      .groupBy('scan_id');
    const runs = await this.em.fork().find(ScanResult, { id: { $in: rows.map((r) => Number(r.id)) } });
    for (const run of runs) latest.set(run.scan.id, run);
    return latest;
  }

  /** The scan's latest run (not a `verify` rescan), of `status` when given; null when there is none. */
  latestRun(scanId: number, status?: ScanResult['status']): Promise<ScanResult | null> {
    const where: FilterQuery<ScanResult> = { scan: scanId, trigger: { $ne: 'verify' } };
    if (status !== undefined) where.status = status;
    return this.em.fork().findOne(ScanResult, where, { orderBy: { id: 'desc' } });
  }

  /** The run counts of each scan that has runs, by scan id (a scan without runs is missing from the map). */
  async runCounts(scanIds: readonly number[]): Promise<Map<number, ScanRunCounts>> {
    const counts = new Map<number, ScanRunCounts>();
    if (scanIds.length === 0) return counts;
    const knex = knexOf(this.em);
    const rows: Array<{
      scan_id: number | string;
      runs: string | number;
      completed: string | number;
      finished: string | number;
    }> = await knex('scan_results')
      .select('scan_id')
      .count({ runs: '*' })
      .select(knex.raw("sum(case when status = 'completed' then 1 else 0 end) as completed"))
      .select(knex.raw("sum(case when status in ('completed', 'failed') then 1 else 0 end) as finished"))
      .whereIn('scan_id', scanIds)
      .groupBy('scan_id');
    for (const row of rows) {
      counts.set(Number(row.scan_id), {
        runs: Number(row.runs),
        completed: Number(row.completed),
        finished: Number(row.finished),
      });
    }
    return counts;
  }

  /** A page of the scan's runs, newest first, and how many it has. */
  runsOfScan(scanId: number, window: RowWindow): Promise<[ScanResult[], number]> {
    return this.em
      .fork()
      .findAndCount(
        ScanResult,
        { scan: scanId },
        { orderBy: { id: 'desc' }, limit: window.limit, offset: window.offset },
      );
  }

  /** The run when it belongs to a scan of `ownerId`, else null. */
  ownedRun(ownerId: number, resultId: number): Promise<ScanResult | null> {
    return this.em.fork().findOne(ScanResult, { id: resultId, scan: { owner: ownerId } });
  }

  /**
   * A page of the run's hosts that pass the filter, in target order (batch by batch, as nmap reported them), and
   * how many pass it.
   */
  async hostsOfRun(resultId: number, filter: RunHostFilter, window: RowWindow): Promise<[Host[], number]> {
    // The filter once, as SQL over `hosts as h`: the page and the count read the same hosts.
    const conditions = ['h.result_id = ?'];
    const bindings: Array<string | number> = [resultId];
    if (filter.hostState) {
      conditions.push('h.state = ?');
      bindings.push(filter.hostState);
    }
    if (filter.portState) {
      conditions.push('exists (select 1 from ports as p where p.host_id = h.id and p.state = ?)');
      bindings.push(filter.portState);
    }
    const where = conditions.join(' and ');
    // Batches cut the targets in address order, and nmap reports a batch's hosts in that order. The page is read
    // batch by batch (the batches' (result_id, seq) index outside, each batch's hosts by its batch_id index
    // inside), so the database stops after offset + limit rows instead of sorting every host of the run for each
    // request: a /16 run's first page took 10 ms on SQLite and 126 ms on PostgreSQL that way, a /8's seconds.
    // SQLite keeps the written join order only for a CROSS JOIN; PostgreSQL plans it so by itself (an incremental
    // sort of each batch's hosts by id) and has no CROSS JOIN … ON.
    const knex = knexOf(this.em);
    const join = isPostgres(knex) ? 'join' : 'cross join';
    const [page, counted] = await Promise.all([
      execute<{ id: number | string }>(
        knex,
        `select h.id from batches as b ${join} hosts as h on h.batch_id = b.id
         where b.result_id = ? and ${where} order by b.seq asc, h.id asc limit ? offset ?`,
        [resultId, ...bindings, window.limit, window.offset],
      ),
      execute<{ total: number | string }>(
        knex,
        `select count(*) as total from hosts as h where ${where}`,
        bindings,
      ),
    ]);
    const total = Number(counted.rows[0]?.total ?? 0);
    const ids = page.rows.map((row) => Number(row.id));
    if (ids.length === 0) return [[], total];
    const byId = new Map(
      (await this.em.fork().find(Host, { id: { $in: ids } })).map((host) => [host.id, host]),
    );
    return [ids.map((id) => byId.get(id)).filter((host): host is Host => host !== undefined), total];
  }

  /**
   * A page of the hosts with this (canonical) address in runs of `ownerId`'s scans, newest run first, each with
   * its run and the run's scan loaded; and how many there are.
   */
  hostHistory(ownerId: number, address: string, window: RowWindow): Promise<[Host[], number]> {
    return this.em.fork().findAndCount(
      Host,
      { address, result: { scan: { owner: ownerId } } },
      {
        populate: ['result', 'result.scan'],
        orderBy: { result: { id: 'desc' } },
        limit: window.limit,
        offset: window.offset,
      },
    );
  }

  /** The ports of each host (by host id), in `state` only when given, ordered by protocol then port. */
  async portsOfHosts(hostIds: readonly number[], state?: string): Promise<Map<number, Port[]>> {
    const byHost = new Map<number, Port[]>();
    if (hostIds.length === 0) return byHost;
    const where: FilterQuery<Port> = { host: { $in: [...hostIds] } };
    if (state) where.state = state;
    const ports = await this.em.fork().find(Port, where, { orderBy: { protocol: 'asc', port: 'asc' } });
    for (const port of ports) {
      const hostId = port.host.id;
      byHost.set(hostId, [...(byHost.get(hostId) ?? []), port]);
    }
    return byHost;
  }

  /** The run's batch rows with seq in [first, last] (a batch no one took yet has no row). */
  batchesOfRun(resultId: number, first: number, last: number): Promise<Batch[]> {
    if (last < first) return Promise.resolve([]);
    return this.em.fork().find(Batch, { result: resultId, seq: { $gte: first, $lte: last } });
  }

  /** The run's totals and batch rows a results summary is made of; NotFoundError when the run does not exist. */
  async summaryRows(resultId: number): Promise<RunSummaryRows> {
    const em = this.em.fork();
    const run = await em.findOneOrFail(ScanResult, resultId, {
      fields: ['targetsTotal', 'openPorts', 'hostsUp', 'delegation'],
    });
    // Counts, not the lists: a /16 run's batches hold 65,536 addresses, and clients poll this summary.
    const knex = knexOf(this.em);
    const length = isPostgres(knex) ? 'jsonb_array_length(targets)' : 'json_array_length(targets)';
    const rows: Array<{ status: BatchStatus; worker_id: string | null; target_count: number | string }> =
      await knex('batches')
        .where({ result_id: resultId })
        .select('status', 'worker_id', knex.raw(`${length} as target_count`));
    const batches = rows.map((row) => ({
      status: row.status,
      workerId: row.worker_id,
      targetCount: Number(row.target_count),
    }));
    return { run, batches };
  }
}
