// What the delta service reads about completed runs: a run's row, its baseline, its hosts, ports and coverage,
// its scan's owner, and the runs still without a report. Through knex, three statements per run's contents: a
// /16 run has 65,536 host rows and several port rows each, which the entity manager would hydrate one at a time.
import type { EntityManager } from '@mikro-orm/core';
import { knexOf } from './sql';

/** A run's own row, as delta_data's `baseline` and `current` show it (snake_case, times as ISO strings). */
export interface RunFacts {
  result_id: number;
  status: string;
  trigger: string;
  started_at: string | null;
  finished_at: string | null;
  nmap_flags: string[];
  targets: string[];
  hosts_up: number;
  open_ports: number;
  batches_total: number;
  batches_failed: number;
}

/** One port row of a run's host (@nso/delta's DeltaPortInput). */
export interface RunPortRecord {
  protocol: string;
  port: number;
  state: string;
  service: string | null;
  product: string | null;
  version: string | null;
  extrainfo: string | null;
}

/** One host row of a run with its ports (@nso/delta's DeltaHostInput). */
export interface RunHostRecord {
  address: string;
  state: string;
  hostnames: string[];
  ports: RunPortRecord[];
  /** The states of the ports nmap scanned and did not list (hosts.unlisted_states); absent when unknown. */
  unlistedStates?: string[];
}

/** What a run found and where it looked. */
export interface RunContents {
  hosts: RunHostRecord[];
  /** The targets of its completed batches. */
  scanned: Set<string>;
  /** The targets of its batches that did not complete (failed, stopped). */
  failed: Set<string>;
}

interface RunRow {
  id: number | string;
  scan_id: number | string;
  status: string;
  trigger: string;
  started_at: Date | string | number | null;
  finished_at: Date | string | number | null;
  nmap_flags: string[] | string;
  targets: string[] | string;
  hosts_up: number | string;
  open_ports: number | string;
  batches_total: number | string;
  batches_failed: number | string;
}

const parsed = <T>(value: T | string): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);
const iso = (value: Date | string | number | null): string | null =>
  value === null ? null : new Date(value).toISOString();

/** Provided by PersistenceModule, created after the migrations. */
export class RunHistoryQueries {
  constructor(private readonly em: EntityManager) {}

  /** The run's row and its scan's id, or undefined when it does not exist (deleted since its job was queued). */
  async run(resultId: number): Promise<(RunFacts & { scan_id: number }) | undefined> {
    const row: RunRow | undefined = await knexOf(this.em)('scan_results').where({ id: resultId }).first();
    return row ? { ...factsOf(row), scan_id: Number(row.scan_id) } : undefined;
  }

  /**
   * The baseline of a run: the latest earlier completed run of the same scan (by id, the order runs were
   * created in). Stopped and failed runs are never baselines.
   */
  async baselineOf(scanId: number, resultId: number): Promise<RunFacts | undefined> {
    const row: RunRow | undefined = await knexOf(this.em)('scan_results')
      .where({ scan_id: scanId, status: 'completed' })
      .andWhere('id', '<', resultId)
      .orderBy('id', 'desc')
      .first();
    return row ? factsOf(row) : undefined;
  }

  /** The hosts of run `resultId` with their ports, and the targets of its batches by outcome. */
  async contents(resultId: number): Promise<RunContents> {
    const knex = knexOf(this.em);
    const [batches, hostRows, portRows] = await Promise.all([
      knex('batches').select('targets', 'status').where({ result_id: resultId }),
      knex('hosts')
        .select('id', 'address', 'state', 'hostnames', 'unlisted_states')
        .where({ result_id: resultId }),
      knex('ports as p')
        .join('hosts as h', 'h.id', 'p.host_id')
        .select('p.host_id', 'p.protocol', 'p.port', 'p.state', 'p.service_name', 'p.product', 'p.version')
        .select('p.extrainfo')
        .where('h.result_id', resultId),
    ]);
    const scanned = new Set<string>();
    const failed = new Set<string>();
    for (const batch of batches as Array<{ targets: string[] | string; status: string }>) {
      const into = batch.status === 'completed' ? scanned : failed;
      for (const address of parsed(batch.targets)) into.add(address);
    }
    const byId = new Map<number, RunHostRecord>();
    for (const h of hostRows as Array<{
      id: number | string;
      address: string;
      state: string;
      hostnames: Array<{ name: string }> | string;
      unlisted_states: string | null;
    }>) {
      byId.set(Number(h.id), {
        address: h.address,
        state: h.state,
        hostnames: (parsed(h.hostnames) ?? []).map((n) => n.name),
        ports: [],
        ...(h.unlisted_states ? { unlistedStates: h.unlisted_states.split(',') } : {}),
      });
    }
    for (const p of portRows as Array<Record<string, string | number | null>>) {
      byId.get(Number(p.host_id))?.ports.push({
        protocol: String(p.protocol),
        port: Number(p.port),
        state: String(p.state),
        service: p.service_name as string | null,
        product: p.product as string | null,
        version: p.version as string | null,
        extrainfo: p.extrainfo as string | null,
      });
    }
    return { hosts: [...byId.values()], scanned, failed };
  }

  /** The scan's owner and name, or undefined when the scan does not exist. */
  async scanOwner(scanId: number): Promise<{ ownerId: number; name: string } | undefined> {
    const scan: { owner_id: number | string; name: string } | undefined = await knexOf(this.em)('scans')
      .where({ id: scanId })
      .first('owner_id', 'name');
    return scan ? { ownerId: Number(scan.owner_id), name: scan.name } : undefined;
  }

  /**
   * The completed runs that finished at or after `since` and are no report's current run, by id, `limit` at
   * most: the runs whose diff may never have been queued.
   */
  async completedWithoutReport(
    since: Date,
    limit: number,
  ): Promise<Array<{ scanId: number; resultId: number }>> {
    const knex = knexOf(this.em);
    const rows: Array<{ id: number | string; scan_id: number | string }> = await knex('scan_results as r')
      .select('r.id', 'r.scan_id')
      .where('r.status', 'completed')
      .andWhere('r.finished_at', '>=', since)
      .whereNotExists(knex('delta_reports as d').select(knex.raw('1')).whereRaw('d.current_result_id = r.id'))
      .orderBy('r.id')
      .limit(limit);
    return rows.map((row) => ({ scanId: Number(row.scan_id), resultId: Number(row.id) }));
  }
}

function factsOf(row: RunRow): RunFacts {
  return {
    result_id: Number(row.id),
    status: row.status,
    trigger: row.trigger,
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    nmap_flags: parsed(row.nmap_flags),
    targets: parsed(row.targets),
    hosts_up: Number(row.hosts_up),
    open_ports: Number(row.open_ports),
    batches_total: Number(row.batches_total),
    batches_failed: Number(row.batches_failed),
  };
}
