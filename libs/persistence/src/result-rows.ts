// The hosts and ports tables: the rows of what one nmap batch found, written inside the transaction in which
// BatchRepository.storeResult claims the batch, so they are written once whatever the retries.
import type { HostnameEntry } from './entities';
import { json, type Knex } from './sql';

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

/**
 * Rows per INSERT. knex writes a multi-row SQLite insert as `select … union all select …`, and SQLite allows
 * at most 500 terms in a compound select; 500 rows also stay far below either database's parameter limit.
 */
const INSERT_CHUNK = 500;

/** One entry per address (nmap can report a target twice), one port per protocol/number; first wins. */
export function mergeHosts(hosts: HostResultInput[]): HostResultInput[] {
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
export async function insertHosts(
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
export async function insertPorts(
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
