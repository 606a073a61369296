// Stores what one nmap batch found, exactly once: a retried batch, or two workers racing on the same batch,
// write hosts and ports a single time. The worker calls this; it needs no Nest.
import {
  raw,
  UniqueConstraintViolationException,
  type EntityManager,
  type EntityName,
} from '@mikro-orm/core';
import type { Knex, SqlEntityManager } from '@mikro-orm/postgresql';
import { Batch, Host, Port, ScanResult, type HostnameEntry } from './entities';

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

export class BatchResultStore {
  constructor(private readonly em: EntityManager) {}

  /**
   * In one transaction: claims the batch (a conditional UPDATE to `completed`, which only one caller can win),
   * writes its hosts and ports, and adds its numbers to the run's counters. A host already stored for the
   * run by another batch (two targets resolving to one address) keeps its row and gains this batch's ports.
   */
  async storeBatchResult(input: BatchResultInput): Promise<StoreBatchResultOutcome> {
    const hosts = mergeHosts(input.hosts);
    const hostsUp = hosts.filter((host) => host.state === 'up').length;
    const openPorts = hosts.reduce(
      (sum, host) => sum + host.ports.filter((port) => port.state === 'open').length,
      0,
    );
    try {
      return await this.em.fork().transactional(async (tx) => {
        const completion = {
          status: 'completed' as const,
          workerId: input.workerId,
          exitCode: input.exitCode,
          stderr: input.stderr,
          finishedAt: input.finishedAt,
          hostsUp,
          openPorts,
        };
        // The claim is the transaction's first statement: on SQLite a write first waits for the lock, where a
        // read first would fail with SQLITE_BUSY once another process had written in between.
        const claimed = await tx.nativeUpdate(
          Batch,
          { id: input.batchId, status: { $nin: ['completed', 'failed'] } },
          completion,
        );
        const reclaimedFailed =
          claimed === 0 &&
          (await tx.nativeUpdate(Batch, { id: input.batchId, status: 'failed' }, completion)) === 1;
        const batch = await findBatch(tx, input.batchId);
        const resultId = batch.result.id;
        if (claimed === 0 && !reclaimedFailed) {
          return this.alreadyStored(tx, input.batchId, resultId);
        }

        const sql = tx as unknown as SqlEntityManager;
        await insertHosts(sql, resultId, input.batchId, hosts, input.finishedAt);
        const hostIds = await findHostIds(sql, resultId, hosts);
        await insertPorts(sql, hosts, hostIds);
        await tx.nativeUpdate(
          ScanResult,
          { id: resultId },
          {
            batchesDone: raw('batches_done + 1'),
            // A batch that failed an earlier attempt was counted as failed; it no longer is.
            ...(reclaimedFailed ? { batchesFailed: raw('batches_failed - 1') } : {}),
            hostsUp: raw('hosts_up + ?', [hostsUp]),
            openPorts: raw('open_ports + ?', [openPorts]),
          },
        );
        return { stored: true, hostsUp, openPorts, resultId };
      });
    } catch (error) {
      // Defensive: after losing the claim a caller never inserts, and conflicting rows are skipped. Should a
      // unique violation surface anyway, a batch that is completed now was stored once, by someone else.
      if (error instanceof UniqueConstraintViolationException) {
        const fork = this.em.fork();
        const batch = await findBatch(fork, input.batchId);
        if (batch.status === 'completed') {
          return this.alreadyStored(fork, input.batchId, batch.result.id);
        }
      }
      throw error;
    }
  }

  private async alreadyStored(
    em: EntityManager,
    batchId: number,
    resultId: number,
  ): Promise<StoreBatchResultOutcome> {
    const stored = await em.findOneOrFail(Batch, batchId, {
      fields: ['hostsUp', 'openPorts'],
      disableIdentityMap: true,
    });
    return { stored: false, hostsUp: stored.hostsUp, openPorts: stored.openPorts, resultId };
  }
}

async function findBatch(em: EntityManager, batchId: number): Promise<Pick<Batch, 'status' | 'result'>> {
  const batch = await em.findOne(Batch, batchId, { fields: ['status', 'result'], disableIdentityMap: true });
  if (!batch) {
    throw new Error(`Batch ${batchId} does not exist`);
  }
  return batch;
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
 * Bulk inserts go straight to the transaction's knex: MikroORM's query builder spends ~4x longer preparing
 * rows than the database spends storing them. Rows are therefore written in column form here, the JSON
 * columns serialised by hand; the read-back tests keep this in step with the entities.
 */
function insertInto(em: SqlEntityManager, entity: EntityName<object>) {
  const meta = em.getMetadata().get(entity);
  const schema = meta.schema ?? em.config.get('schema');
  const trx = em.getTransactionContext<Knex.Transaction>();
  if (!trx) {
    throw new Error('Bulk inserts must run inside a transaction');
  }
  return (rows: Record<string, unknown>[], conflict: string[]) => {
    const query = (schema ? trx.withSchema(schema) : trx).table(meta.tableName);
    return query.insert(rows).onConflict(conflict).ignore();
  };
}

const json = (value: unknown): string | null =>
  value === undefined || value === null ? null : JSON.stringify(value);

async function insertHosts(
  em: SqlEntityManager,
  resultId: number,
  batchId: number,
  hosts: HostResultInput[],
  createdAt: Date,
): Promise<void> {
  const insert = insertInto(em, Host);
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
    await insert(chunk, ['result_id', 'address']);
  }
}

async function findHostIds(
  em: SqlEntityManager,
  resultId: number,
  hosts: HostResultInput[],
): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  const withPorts = hosts.filter((host) => host.ports.length > 0).map((host) => host.address);
  for (const addresses of chunks(withPorts)) {
    const rows = await em
      .createQueryBuilder(Host)
      .select(['id', 'address'])
      .where({ result: resultId, address: { $in: addresses } })
      .execute<Array<{ id: number; address: string }>>('all', false);
    for (const row of rows) {
      ids.set(row.address, Number(row.id));
    }
  }
  return ids;
}

async function insertPorts(
  em: SqlEntityManager,
  hosts: HostResultInput[],
  hostIds: Map<string, number>,
): Promise<void> {
  const insert = insertInto(em, Port);
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
  for (const chunk of chunks(rows)) {
    await insert(chunk, ['host_id', 'protocol', 'port']);
  }
}
