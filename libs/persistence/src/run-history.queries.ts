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

/** A scan's settings for trusted deltas (issue 21): the scans columns of the same names. */
export interface TrustSettings {
  /** The scan is active (a deactivated scan is not rescanned). */
  isActive: boolean;
  verifyChanges: boolean;
  verifyDelaySeconds: number;
  announceUnconfirmed: boolean;
  flapWindow: number;
  flapThreshold: number;
  /** @nso/delta's ExpectedPorts in normal form; null: none. */
  expectedPorts: Record<string, string[]> | null;
}

/** What one run saw of some addresses (RunHistoryQueries.observations). */
export interface RunObservation {
  resultId: number;
  nmapFlags: string[];
  /** Those of the addresses its completed batches covered. */
  scanned: Set<string>;
  /** Its host rows of those addresses (ports without service fields). */
  hosts: Map<string, RunHostRecord>;
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
   * created in). Stopped and failed runs are never baselines, nor confirmation rescans (trigger `verify`).
   */
  async baselineOf(scanId: number, resultId: number): Promise<RunFacts | undefined> {
    const row: RunRow | undefined = await knexOf(this.em)('scan_results')
      .where({ scan_id: scanId, status: 'completed' })
      .andWhereNot('trigger', 'verify')
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

  /** The scan's settings of issue 21 (docs/delta.md), or undefined when the scan does not exist. */
  async trustSettings(scanId: number): Promise<TrustSettings | undefined> {
    const row: Record<string, unknown> | undefined = await knexOf(this.em)('scans')
      .where({ id: scanId })
      .first(
        'verify_changes',
        'verify_delay_seconds',
        'announce_unconfirmed',
        'flap_window',
        'flap_threshold',
        'expected_ports',
        'is_active',
      );
    if (!row) return undefined;
    return {
      isActive: Boolean(row.is_active),
      verifyChanges: Boolean(row.verify_changes),
      verifyDelaySeconds: Number(row.verify_delay_seconds),
      announceUnconfirmed: Boolean(row.announce_unconfirmed),
      flapWindow: Number(row.flap_window),
      flapThreshold: Number(row.flap_threshold),
      expectedPorts:
        row.expected_ports === null || row.expected_ports === undefined
          ? null
          : parsed(row.expected_ports as Record<string, string[]>),
    };
  }

  /**
   * What the scan's latest `window` completed runs up to `resultId` (itself included; confirmation rescans left
   * out) saw of `addresses`, oldest first: each run's options, which of the addresses its completed batches
   * covered, and the host rows of those it found (state, ports). For a port's flapping history
   * (docs/delta.md "Flapping ports"). Addresses are read 500 at a time.
   */
  async observations(
    scanId: number,
    resultId: number,
    window: number,
    addresses: readonly string[],
  ): Promise<RunObservation[]> {
    const knex = knexOf(this.em);
    const runs: Array<{ id: number | string; nmap_flags: string[] | string }> = await knex('scan_results')
      .select('id', 'nmap_flags')
      .where({ scan_id: scanId, status: 'completed' })
      .andWhereNot('trigger', 'verify')
      .andWhere('id', '<=', resultId)
      .orderBy('id', 'desc')
      .limit(window);
    if (runs.length === 0 || addresses.length === 0) return [];
    const wanted = new Set(addresses);
    const out = new Map<number, RunObservation>();
    for (const run of runs.reverse()) {
      out.set(Number(run.id), {
        resultId: Number(run.id),
        nmapFlags: parsed(run.nmap_flags),
        scanned: new Set(),
        hosts: new Map(),
      });
    }
    const ids = [...out.keys()];
    const batches: Array<{ result_id: number | string; targets: string[] | string }> = await knex('batches')
      .select('result_id', 'targets')
      .whereIn('result_id', ids)
      .andWhere('status', 'completed');
    for (const batch of batches) {
      const run = out.get(Number(batch.result_id))!;
      for (const address of parsed(batch.targets)) if (wanted.has(address)) run.scanned.add(address);
    }
    for (let i = 0; i < addresses.length; i += 500) {
      const slice = addresses.slice(i, i + 500);
      const hosts: Array<Record<string, unknown>> = await knex('hosts')
        .select('id', 'result_id', 'address', 'state', 'unlisted_states')
        .whereIn('result_id', ids)
        .whereIn('address', slice);
      const byId = new Map<number, RunHostRecord>();
      for (const h of hosts) {
        const record: RunHostRecord = {
          address: String(h.address),
          state: String(h.state),
          hostnames: [],
          ports: [],
          ...(h.unlisted_states ? { unlistedStates: String(h.unlisted_states).split(',') } : {}),
        };
        byId.set(Number(h.id), record);
        out.get(Number(h.result_id))!.hosts.set(record.address, record);
      }
      const hostIds = [...byId.keys()];
      for (let j = 0; j < hostIds.length; j += 500) {
        const ports: Array<Record<string, string | number | null>> = await knex('ports')
          .select('host_id', 'protocol', 'port', 'state')
          .whereIn('host_id', hostIds.slice(j, j + 500));
        for (const p of ports) {
          byId.get(Number(p.host_id))?.ports.push({
            protocol: String(p.protocol),
            port: Number(p.port),
            state: String(p.state),
            service: null,
            product: null,
            version: null,
            extrainfo: null,
          });
        }
      }
    }
    return [...out.values()];
  }

  /** The scan's owner and name, or undefined when the scan does not exist. */
  async scanOwner(scanId: number): Promise<{ ownerId: number; name: string } | undefined> {
    const scan: { owner_id: number | string; name: string } | undefined = await knexOf(this.em)('scans')
      .where({ id: scanId })
      .first('owner_id', 'name');
    return scan ? { ownerId: Number(scan.owner_id), name: scan.name } : undefined;
  }

  /**
   * The completed runs (not confirmation rescans) that finished at or after `since` and are no report's current
   * run, by id, `limit` at most: the runs whose diff may never have been queued.
   */
  async completedWithoutReport(
    since: Date,
    limit: number,
  ): Promise<Array<{ scanId: number; resultId: number }>> {
    const knex = knexOf(this.em);
    const rows: Array<{ id: number | string; scan_id: number | string }> = await knex('scan_results as r')
      .select('r.id', 'r.scan_id')
      .where('r.status', 'completed')
      .andWhereNot('r.trigger', 'verify')
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
