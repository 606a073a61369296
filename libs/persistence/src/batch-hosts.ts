// The hosts and ports of a batch's result: the checks of what their columns hold, and the inserts that
// BatchRepository.storeResult runs inside its transaction (so these rows, too, are written from one door only).
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
  /** nmap's `<extraports>`: the states (and counts) of the ports it scanned and did not list. */
  extraPorts?: ReadonlyArray<{ state: string; count: number }>;
}

/**
 * `<extraports>` → the `unlisted_states` column: its states (nmap's port states: the parser keeps no other), each
 * once, sorted, comma-separated; or null.
 */
export function unlistedStatesOf(extraPorts: HostResultInput['extraPorts']): string | null {
  const states = [...new Set((extraPorts ?? []).map((e) => e.state))].sort();
  return states.length > 0 ? states.join(',') : null;
}

/**
 * Characters a `string` column holds: varchar(255) on PostgreSQL (the migrations' `t.string`). SQLite would
 * store more; both databases are held to the same limit, so a result stores alike on either.
 */
export const STRING_COLUMN_LENGTH = 255;

/** A result holds values the hosts and ports tables cannot store; `problems` name each (host, field, why). */
export class ResultValueError extends Error {
  override readonly name = 'ResultValueError';
  constructor(readonly problems: string[]) {
    super(`the result holds values the database cannot store: ${problems.slice(0, 5).join('; ')}`);
  }
}

/**
 * What of `hosts` the hosts and ports tables cannot hold, one sentence each (empty when everything fits): text
 * columns longer than STRING_COLUMN_LENGTH, a NUL character anywhere (PostgreSQL text and JSON refuse it), a
 * port number outside 0-65535. Checked by storeResult before any write; callers that take results from users
 * (the XML import) check first to answer 400.
 */
export function resultValueProblems(hosts: readonly HostResultInput[]): string[] {
  const problems: string[] = [];
  const text = (where: string, field: string, value: unknown, max = STRING_COLUMN_LENGTH) => {
    if (typeof value !== 'string') return;
    if (value.includes('\u0000')) problems.push(`${where}: ${field} contains a NUL character`);
    else if (value.length > max)
      problems.push(`${where}: ${field} is ${value.length} characters long (at most ${max})`);
  };
  const noNul = (where: string, field: string, value: unknown) => {
    if (value !== undefined && value !== null && JSON.stringify(value).includes('\\u0000'))
      problems.push(`${where}: ${field} contains a NUL character`);
  };
  for (const host of hosts) {
    const where = JSON.stringify(String(host.address).slice(0, 64));
    text(where, 'address', host.address);
    text(where, 'address type', host.addressType);
    text(where, 'state', host.state);
    text(where, 'reason', host.reason);
    text(where, 'mac', host.mac);
    noNul(where, 'hostnames', host.hostnames);
    noNul(where, 'os', host.os);
    for (const port of host.ports) {
      const at = `${where} ${String(port.protocol).slice(0, 16)}/${port.port}`;
      if (!Number.isInteger(port.port) || port.port < 0 || port.port > 65535)
        problems.push(`${at}: port is not a number from 0 to 65535`);
      text(at, 'protocol', port.protocol);
      text(at, 'state', port.state);
      text(at, 'reason', port.reason);
      text(at, 'service name', port.service?.name);
      text(at, 'product', port.service?.product);
      text(at, 'version', port.service?.version);
      text(at, 'extrainfo', port.service?.extrainfo);
      noNul(at, 'cpe', port.service?.cpe);
    }
  }
  return problems;
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
    unlisted_states: unlistedStatesOf(host.extraPorts),
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
