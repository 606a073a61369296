// Reads a run from the database as the diff needs it. Through knex, three statements per run: a /16 run has
// 65,536 host rows and several port rows each, which the entity manager would hydrate one object at a time.
import { EntityManager } from '@mikro-orm/core';
import { Injectable } from '@nestjs/common';
import { scanOptionsOf, type DeltaHostInput, type DeltaPortInput, type DeltaRun } from '@nso/delta';
import { knexOf } from '@nso/persistence';

/** The run's own row, as delta_data's `baseline` and `current` show it. */
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

@Injectable()
export class RunLoader {
  constructor(private readonly em: EntityManager) {}

  /** The run's row, or undefined when it does not exist (deleted since the job was queued). */
  async facts(resultId: number): Promise<(RunFacts & { scan_id: number }) | undefined> {
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

  /** Hosts, ports and coverage of a run, for diffResults. */
  async load(run: RunFacts): Promise<DeltaRun> {
    const knex = knexOf(this.em);
    const [batches, hostRows, portRows] = await Promise.all([
      knex('batches').select('targets', 'status').where({ result_id: run.result_id }),
      knex('hosts')
        .select('id', 'address', 'state', 'hostnames', 'unlisted_states')
        .where({ result_id: run.result_id }),
      knex('ports as p')
        .join('hosts as h', 'h.id', 'p.host_id')
        .select('p.host_id', 'p.protocol', 'p.port', 'p.state', 'p.service_name', 'p.product', 'p.version')
        .select('p.extrainfo')
        .where('h.result_id', run.result_id),
    ]);
    const scanned = new Set<string>();
    const failed = new Set<string>();
    for (const batch of batches as Array<{ targets: string[] | string; status: string }>) {
      const into = batch.status === 'completed' ? scanned : failed;
      for (const address of parsed(batch.targets)) into.add(address);
    }
    const byId = new Map<number, DeltaHostInput & { ports: DeltaPortInput[] }>();
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
    return {
      hosts: [...byId.values()],
      coverage: { scanned, failed },
      options: scanOptionsOf(run.nmap_flags),
    };
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
