// Stores what one nmap batch found, exactly once: a retried batch, or two workers racing on the same batch,
// write hosts and ports a single time. The worker calls this; it needs no Nest.
import type { EntityManager } from '@mikro-orm/core';
import type { HostnameEntry } from './entities';
import { isUniqueViolation, json, knexOf, type Knex } from './sql';

export interface PortResultInput {
  protocol: string;
  port: number;
  state: string;
  reason?: string;
  service?: { name?: string; product?: string; version?: string; extrainfo?: string; cpe?: string[] };
}

export interface HostResultInput {
  address: string;
  addressType: string;
  hostnames: HostnameEntry[];
  state: string;
  reason?: string;
  mac?: string;
  os?: unknown;
  ports: PortResultInput[];
}

export interface BatchResultInput {
  batchId: number;
  workerId: string;
  exitCode: number | null;
  stderr: string | null;
  finishedAt: Date;
  hosts: HostResultInput[];
}

export interface StoreBatchResultOutcome {
  /** False when the batch had already been stored (by an earlier attempt or another worker). */
  stored: boolean;
  /** Hosts up and open ports of the batch as stored (the earlier attempt's numbers when `stored` is false). */
  hostsUp: number;
  openPorts: number;
  resultId: number;
}

/**
 * Rows per INSERT. knex writes a multi-row SQLite insert as `select … union all select …`, and SQLite allows
 * at most 500 terms in a compound select; 500 rows also stay far below either database's parameter limit.
 */
const INSERT_CHUNK = 500;

/** The batch columns a completed batch is stored with. */
interface Completion {
  status: 'completed';
  worker_id: string;
  exit_code: number | null;
  stderr: string | null;
  finished_at: Date;
  hosts_up: number;
  open_ports: number;
}

export class BatchResultStore {
  constructor(private readonly em: EntityManager) {}

  /**
   * In one transaction: claims the batch (a conditional UPDATE to `completed`, which only one caller can win),
   * writes its hosts and ports, and adds its numbers to the run's counters. The numbers are what the batch
   * stored: hosts up among the rows it inserted, open ports among the port rows it inserted, so the batch's
   * summary and the run's counters always equal the rows. A host another batch of the run already stored keeps
   * its row (and is not counted again) and gains this batch's new ports; the scheduler cuts disjoint batches,
   * so this is a defence, not a path. Five statements in the common case, through knex (see sql.ts).
   */
  async storeBatchResult(input: BatchResultInput): Promise<StoreBatchResultOutcome> {
    const hosts = mergeHosts(input.hosts);
    const hostsUp = hosts.filter((host) => host.state === 'up').length;
    const openPorts = hosts.reduce(
      (sum, host) => sum + host.ports.filter((port) => port.state === 'open').length,
      0,
    );
    const completion: Completion = {
      status: 'completed',
      worker_id: input.workerId,
      exit_code: input.exitCode,
      stderr: input.stderr,
      finished_at: input.finishedAt,
      hosts_up: hostsUp,
      open_ports: openPorts,
    };
    const knex = knexOf(this.em);
    try {
      return await knex.transaction(async (trx) => {
        // The claim is the transaction's first statement: on SQLite a write first waits for the lock, where a
        // read first would fail with SQLITE_BUSY once another process had written in between.
        let reclaimedFailed = false;
        let claim = await claimBatch(trx, input.batchId, completion, 'unfinished');
        if (!claim) {
          claim = await claimBatch(trx, input.batchId, completion, 'failed');
          reclaimedFailed = claim !== undefined;
        }
        if (!claim) return (await alreadyStored(trx, input.batchId)).outcome;

        const resultId = claim;
        const inserted = await insertHosts(trx, resultId, input.batchId, hosts, input.finishedAt);
        const openStored = await insertPorts(trx, hosts, inserted.ids);
        const counted = { hostsUp: inserted.up, openPorts: openStored };
        if (counted.hostsUp !== hostsUp || counted.openPorts !== openPorts) {
          await trx('batches')
            .where({ id: input.batchId })
            .update({ hosts_up: counted.hostsUp, open_ports: counted.openPorts });
        }
        await trx('scan_results')
          .where({ id: resultId })
          .update({
            batches_done: trx.raw('batches_done + 1'),
            // A batch that failed an earlier attempt was counted as failed; it no longer is.
            ...(reclaimedFailed ? { batches_failed: trx.raw('batches_failed - 1') } : {}),
            hosts_up: trx.raw('hosts_up + ?', [counted.hostsUp]),
            open_ports: trx.raw('open_ports + ?', [counted.openPorts]),
          });
        return { stored: true, ...counted, resultId };
      });
    } catch (error) {
      // Defensive: after losing the claim a caller never inserts, and conflicting rows are skipped. Should a
      // unique violation surface anyway, a batch that is completed now was stored once, by someone else.
      if (isUniqueViolation(error)) {
        const stored = await alreadyStored(knex, input.batchId);
        if (stored.completed) return stored.outcome;
      }
      throw error;
    }
  }
}

/**
 * Moves the batch to `completed` if it is in one of the given states; returns its run's id when it did.
 * `unfinished` is pending, running or stopped (a batch stopped while its nmap was already done still counts).
 */
async function claimBatch(
  trx: Knex.Transaction,
  batchId: number,
  completion: Completion,
  from: 'unfinished' | 'failed',
): Promise<number | undefined> {
  const query = trx('batches').where({ id: batchId });
  if (from === 'failed') query.andWhere({ status: 'failed' });
  else query.whereNotIn('status', ['completed', 'failed']);
  const rows: Array<{ result_id: number | string }> = await query.update(completion, ['result_id']);
  return rows.length > 0 ? Number(rows[0].result_id) : undefined;
}

async function alreadyStored(
  knex: Knex,
  batchId: number,
): Promise<{ outcome: StoreBatchResultOutcome; completed: boolean }> {
  const row:
    { status: string; result_id: number | string; hosts_up: number; open_ports: number } | undefined =
    await knex('batches')
      .select('status', 'result_id', 'hosts_up', 'open_ports')
      .where({ id: batchId })
      .first();
  if (!row) throw new Error(`Batch ${batchId} does not exist`);
  return {
    outcome: {
      stored: false,
      hostsUp: Number(row.hosts_up),
      openPorts: Number(row.open_ports),
      resultId: Number(row.result_id),
    },
    completed: row.status === 'completed',
  };
}

/** One entry per address (nmap can report a target twice), one port per protocol/number; first wins. */
function mergeHosts(hosts: HostResultInput[]): HostResultInput[] {
  const byAddress = new Map<string, HostResultInput>();
  for (const host of hosts) {
    const seen = byAddress.get(host.address);
    byAddress.set(host.address, seen ? { ...seen, ports: [...seen.ports, ...host.ports] } : host);
  }
  return [...byAddress.values()].map((host) => {
    const ports = new Map<string, PortResultInput>();
    for (const port of host.ports) {
      const key = `${port.protocol}/${port.port}`;
      if (!ports.has(key)) {
        ports.set(key, port);
      }
    }
    return { ...host, ports: [...ports.values()] };
  });
}

function chunks<T>(items: T[], size = INSERT_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(items.slice(i, i + size));
  }
  return out;
}

/**
 * Inserts the batch's hosts; returns the ids of those that have ports, and how many of the rows it inserted are
 * up. A host another batch of the run already stored is skipped by the insert and looked up instead.
 */
async function insertHosts(
  trx: Knex.Transaction,
  resultId: number,
  batchId: number,
  hosts: HostResultInput[],
  createdAt: Date,
): Promise<{ ids: Map<string, number>; up: number }> {
  const ids = new Map<string, number>();
  let up = 0;
  const rows = hosts.map((host) => ({
    result_id: resultId,
    batch_id: batchId,
    address: host.address,
    address_type: host.addressType,
    hostnames: json(host.hostnames ?? []),
    state: host.state,
    reason: host.reason ?? null,
    mac: host.mac ?? null,
    os: json(host.os),
    created_at: createdAt,
  }));
  for (const chunk of chunks(rows)) {
    const inserted: Array<{ id: number | string; address: string; state: string }> = await trx('hosts')
      .insert(chunk, ['id', 'address', 'state'])
      .onConflict(['result_id', 'address'])
      .ignore();
    for (const row of inserted) {
      ids.set(row.address, Number(row.id));
      if (row.state === 'up') up += 1;
    }
  }
  const missing = hosts.filter((host) => host.ports.length > 0 && !ids.has(host.address));
  for (const chunk of chunks(missing.map((host) => host.address))) {
    const found: Array<{ id: number | string; address: string }> = await trx('hosts')
      .select('id', 'address')
      .where({ result_id: resultId })
      .whereIn('address', chunk);
    for (const row of found) ids.set(row.address, Number(row.id));
  }
  return { ids, up };
}

/** Inserts the ports of the stored hosts (a port already stored is skipped); returns how many open ones it stored. */
async function insertPorts(
  trx: Knex.Transaction,
  hosts: HostResultInput[],
  hostIds: Map<string, number>,
): Promise<number> {
  const rows: Record<string, unknown>[] = [];
  for (const host of hosts) {
    const hostId = hostIds.get(host.address);
    if (hostId === undefined) {
      continue;
    }
    for (const port of host.ports) {
      rows.push({
        host_id: hostId,
        protocol: port.protocol,
        port: port.port,
        state: port.state,
        reason: port.reason ?? null,
        service_name: port.service?.name ?? null,
        product: port.service?.product ?? null,
        version: port.service?.version ?? null,
        extrainfo: port.service?.extrainfo ?? null,
        cpe: port.service?.cpe?.length ? json(port.service.cpe) : null,
      });
    }
  }
  let open = 0;
  for (const chunk of chunks(rows)) {
    const inserted: Array<{ state: string }> = await trx('ports')
      .insert(chunk, ['state'])
      .onConflict(['host_id', 'protocol', 'port'])
      .ignore();
    open += inserted.filter((row) => row.state === 'open').length;
  }
  return open;
}
