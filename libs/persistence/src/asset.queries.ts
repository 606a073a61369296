// Read model of assets over time (issue 21): one address across the runs of a user's scans, a scan's inventory of
// hosts over all its runs, and which runs looked at an address at all. Reads only, through knex: a scan's history
// holds a host row per run and address, which the entity manager would hydrate one at a time.
//
// Indexes used: hosts(result_id, address) (unique) for every lookup of an address — the user's runs are found
// through scans(owner_id) and scan_results(scan_id, status), then each run's row of the address by that index, so
// no index on hosts(address) alone is needed. Which runs *covered* an address without listing it is in
// batches.targets (a JSON array per batch), which no index reaches: that check reads the target lists of the
// runs it is asked about (coveringRuns), so callers bound it where they can.
import type { EntityManager } from '@mikro-orm/core';
import { isPostgres, knexOf, type Knex } from './sql';

/** A run as the asset views name it. Times are ISO strings; `finished_at` is null while it runs. */
export interface AssetRun {
  result_id: number;
  scan_id: number;
  scan_name: string;
  trigger: string;
  status: string;
  finished_at: string | null;
  /** The run's nmap options (what it scanned: @nso/delta scanOptionsOf). */
  nmap_flags: string[];
}

/** A host row of an address in one run, with its run. */
export interface AssetSighting extends AssetRun {
  host_id: number;
  /** nmap's host state in that run (`up`, `down`, ...). */
  state: string;
  hostnames: string[];
  /** The states of the ports nmap scanned and did not list (hosts.unlisted_states), in order; [] when unknown. */
  unlisted_states: string[];
}

/** A port row of a host row. */
export interface AssetPortRow {
  host_id: number;
  protocol: string;
  port: number;
  state: string;
  service: string | null;
  product: string | null;
  version: string | null;
}

/** One address of a scan's inventory: its host rows summed up over the scan's runs, and its latest row. */
export interface ScanHostSummary {
  address: string;
  /** Run id of the first / last run whose row has the host up; null when it was never up. */
  first_up_result_id: number | null;
  last_up_result_id: number | null;
  /** The latest run with a row of this address, that row's id and host state. */
  last_row_result_id: number;
  last_row_host_id: number;
  last_row_state: string;
}

interface RunRow {
  result_id: number | string;
  scan_id: number | string;
  scan_name?: string;
  trigger: string;
  status: string;
  finished_at: Date | string | number | null;
  nmap_flags: string[] | string;
}

const parsed = <T>(value: T | string): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);
const iso = (value: Date | string | number | null): string | null =>
  value === null ? null : new Date(value).toISOString();
const nullableId = (value: number | string | null): number | null => (value === null ? null : Number(value));

/** Port rows are read for this many host rows at a time (a bound on the statement's parameters). */
const HOST_ID_CHUNK = 500;

/** Provided by PersistenceModule, created after the migrations. */
export class AssetQueries {
  constructor(private readonly em: EntityManager) {}

  /** The owner's scan (id, name, expected_ports as stored: normalised, or null), or undefined. */
  async ownedScan(
    ownerId: number,
    scanId: number,
  ): Promise<{ id: number; name: string; expectedPorts: Record<string, string[]> | null } | undefined> {
    const row: { id: number | string; name: string; expected_ports: unknown } | undefined = await knexOf(
      this.em,
    )('scans')
      .where({ id: scanId, owner_id: ownerId })
      .first('id', 'name', 'expected_ports');
    if (!row) return undefined;
    const expected =
      row.expected_ports === null ? null : parsed(row.expected_ports as Record<string, string[]>);
    return { id: Number(row.id), name: row.name, expectedPorts: expected };
  }

  /**
   * Every host row of `address` (canonical text) in the runs of `ownerId`'s scans, newest run first (by run id,
   * the order runs were made in). Empty when no run of the user listed the address.
   */
  async sightings(ownerId: number, address: string): Promise<AssetSighting[]> {
    const rows: Array<
      RunRow & {
        host_id: number | string;
        state: string;
        hostnames: Array<{ name: string }> | string;
        unlisted_states: string | null;
      }
    > = await this.ownedRuns(ownerId)
      .join('hosts as h', 'h.result_id', 'r.id')
      .where('h.address', address)
      .select('h.id as host_id', 'h.state', 'h.hostnames', 'h.unlisted_states')
      .orderBy('r.id', 'desc');
    return rows.map((row) => ({
      ...runOf(row),
      host_id: Number(row.host_id),
      state: row.state,
      hostnames: (parsed(row.hostnames) ?? []).map((n) => n.name),
      unlisted_states: row.unlisted_states ? row.unlisted_states.split(',') : [],
    }));
  }

  /**
   * The runs of `ownerId`'s scans (with id above `afterResultId`) that looked at `address`: a batch of theirs that
   * covered it completed, whether or not nmap listed the host. Newest first. Reads the target lists of the
   * batches of those runs (no index holds them): bound it with `afterResultId` where the caller can.
   */
  async coveringRuns(ownerId: number, address: string, afterResultId = 0): Promise<AssetRun[]> {
    const knex = knexOf(this.em);
    const covers = knex('batches as b')
      .select(knex.raw('1'))
      .whereRaw('b.result_id = r.id')
      .andWhere('b.status', 'completed')
      .andWhere(coversAddress(knex, address));
    const rows: RunRow[] = await this.ownedRuns(ownerId)
      .where('r.id', '>', afterResultId)
      .whereExists(covers)
      .orderBy('r.id', 'desc');
    return rows.map(runOf);
  }

  /**
   * The port rows of these host rows, ordered by protocol then port; only `protocol`/`port`/`state` when given.
   */
  async portsOf(
    hostIds: readonly number[],
    only: { protocol?: string; port?: number; state?: string } = {},
  ): Promise<AssetPortRow[]> {
    const knex = knexOf(this.em);
    const out: AssetPortRow[] = [];
    for (let i = 0; i < hostIds.length; i += HOST_ID_CHUNK) {
      const query = knex('ports')
        .select('host_id', 'protocol', 'port', 'state', 'service_name', 'product', 'version')
        .whereIn('host_id', hostIds.slice(i, i + HOST_ID_CHUNK));
      if (only.protocol !== undefined) query.andWhere('protocol', only.protocol);
      if (only.port !== undefined) query.andWhere('port', only.port);
      if (only.state !== undefined) query.andWhere('state', only.state);
      const rows: Array<Record<string, string | number | null>> = await query;
      for (const row of rows) out.push(portOf(row));
    }
    return out.sort((a, b) =>
      a.protocol === b.protocol ? a.port - b.port : a.protocol < b.protocol ? -1 : 1,
    );
  }

  /**
   * The runs of a scan that make its inventory, newest first (by id), with the scan's name: every run but the
   * `verify` rescans (a few changed hosts on a few changed ports: their rows say nothing of the other ports, and
   * they are never a delta baseline either).
   */
  async inventoryRuns(scanId: number): Promise<AssetRun[]> {
    const rows: RunRow[] = await knexOf(this.em)('scan_results as r')
      .join('scans as s', 's.id', 'r.scan_id')
      .where('r.scan_id', scanId)
      .whereNot('r.trigger', 'verify')
      .select(RUN_COLUMNS)
      .orderBy('r.id', 'desc');
    return rows.map(runOf);
  }

  /**
   * Every address an inventory run of the scan (see inventoryRuns) listed, with its first and last run up and its
   * latest host row: the aggregate per address over those runs' host rows, then that latest row by its unique
   * index (one statement).
   */
  async hostSummaries(scanId: number): Promise<ScanHostSummary[]> {
    const knex = knexOf(this.em);
    const rows: Array<Record<string, string | number | null>> = await this.withLatestRows(knex, scanId)
      .select('x.address', 'x.first_up', 'x.last_up', 'x.last_row', 'h.id as host_id', 'h.state')
      .from('x');
    return rows.map((row) => ({
      address: String(row.address),
      first_up_result_id: nullableId(row.first_up),
      last_up_result_id: nullableId(row.last_up),
      last_row_result_id: Number(row.last_row),
      last_row_host_id: Number(row.host_id),
      last_row_state: String(row.state),
    }));
  }

  /** The addresses the completed batches of a run covered (as the run's batches list them). */
  async coveredBy(resultId: number): Promise<Set<string>> {
    const rows: Array<{ targets: string[] | string }> = await knexOf(this.em)('batches')
      .select('targets')
      .where({ result_id: resultId, status: 'completed' });
    const covered = new Set<string>();
    for (const row of rows) for (const address of parsed(row.targets)) covered.add(address);
    return covered;
  }

  /** The runs of the owner's scans, with RUN_COLUMNS selected (the base of the per-address reads). */
  private ownedRuns(ownerId: number): Knex.QueryBuilder {
    return knexOf(this.em)('scan_results as r')
      .join('scans as s', 's.id', 'r.scan_id')
      .where('s.owner_id', ownerId)
      .select(RUN_COLUMNS);
  }

  /**
   * `x`: per address of the scan's host rows, the first and last run it was up in and its latest run with a row;
   * joined to that latest row as `h`.
   */
  private withLatestRows(knex: Knex, scanId: number): Knex.QueryBuilder {
    const upRun = (fn: 'min' | 'max') =>
      knex.raw(
        `${fn}(case when hh.state = 'up' then hh.result_id end) as ${fn === 'min' ? 'first_up' : 'last_up'}`,
      );
    const perAddress = knex('hosts as hh')
      .join('scan_results as rr', 'rr.id', 'hh.result_id')
      .where('rr.scan_id', scanId)
      .whereNot('rr.trigger', 'verify')
      .groupBy('hh.address')
      .select('hh.address', upRun('min'), upRun('max'), knex.raw('max(hh.result_id) as last_row'));
    return knex.with('x', perAddress).join('hosts as h', function () {
      this.on('h.result_id', '=', 'x.last_row').andOn('h.address', '=', 'x.address');
    });
  }
}

const RUN_COLUMNS = [
  'r.id as result_id',
  'r.scan_id',
  's.name as scan_name',
  'r.trigger',
  'r.status',
  'r.finished_at',
  'r.nmap_flags',
];

/**
 * A batch's JSON target list holds `address`: jsonb containment on PostgreSQL; on SQLite the quoted address in the
 * stored text (knex writes the arrays with JSON.stringify, and an address holds no character JSON escapes).
 */
function coversAddress(knex: Knex, address: string): Knex.Raw {
  return isPostgres(knex)
    ? knex.raw('b.targets @> ?::jsonb', [JSON.stringify([address])])
    : knex.raw('instr(b.targets, ?) > 0', [JSON.stringify(address)]);
}

function runOf(row: RunRow): AssetRun {
  return {
    result_id: Number(row.result_id),
    scan_id: Number(row.scan_id),
    scan_name: row.scan_name ?? '',
    trigger: row.trigger,
    status: row.status,
    finished_at: iso(row.finished_at),
    nmap_flags: parsed(row.nmap_flags) ?? [],
  };
}

function portOf(row: Record<string, string | number | null>): AssetPortRow {
  return {
    host_id: Number(row.host_id),
    protocol: String(row.protocol),
    port: Number(row.port),
    state: String(row.state),
    service: (row.service_name as string | null) ?? null,
    product: (row.product as string | null) ?? null,
    version: (row.version as string | null) ?? null,
  };
}
