// The hosts and ports of a batch's result: the checks of what their columns hold, and the inserts that
// BatchRepository.storeResult runs inside its transaction (so these rows, too, are written from one door only).
import type { HostnameEntry } from './entities';
import { execute, isPostgres, isUniqueViolation, json, type Knex } from './sql';

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
  // Most hosts have none or one: no set and sort for those (this runs for every host of every batch).
  if (extraPorts === undefined || extraPorts === null || extraPorts.length === 0) return null;
  if (extraPorts.length === 1) return extraPorts[0].state;
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
  // Where a problem is (the host, the port) is written only when there is one: this runs over every host and
  // port of every batch and import, and almost every value fits (so no label or closure is made per value).
  const at = (host: HostResultInput, port: PortResultInput | undefined) =>
    JSON.stringify(String(host.address).slice(0, 64)) +
    (port ? ` ${String(port.protocol).slice(0, 16)}/${port.port}` : '');
  const text = (
    host: HostResultInput,
    port: PortResultInput | undefined,
    field: string,
    value: unknown,
  ): void => {
    if (typeof value !== 'string') return;
    if (value.includes('\u0000')) problems.push(`${at(host, port)}: ${field} contains a NUL character`);
    else if (value.length > STRING_COLUMN_LENGTH)
      problems.push(
        `${at(host, port)}: ${field} is ${value.length} characters long (at most ${STRING_COLUMN_LENGTH})`,
      );
  };
  const noNul = (host: HostResultInput, port: PortResultInput | undefined, field: string, value: unknown) => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value) && value.length === 0) return;
    if (JSON.stringify(value).includes('\\u0000'))
      problems.push(`${at(host, port)}: ${field} contains a NUL character`);
  };
  for (const host of hosts) {
    text(host, undefined, 'address', host.address);
    text(host, undefined, 'address type', host.addressType);
    text(host, undefined, 'state', host.state);
    text(host, undefined, 'reason', host.reason);
    text(host, undefined, 'mac', host.mac);
    noNul(host, undefined, 'hostnames', host.hostnames);
    noNul(host, undefined, 'os', host.os);
    for (const port of host.ports) {
      if (!Number.isInteger(port.port) || port.port < 0 || port.port > 65535)
        problems.push(`${at(host, port)}: port is not a number from 0 to 65535`);
      text(host, port, 'protocol', port.protocol);
      text(host, port, 'state', port.state);
      text(host, port, 'reason', port.reason);
      const service = port.service;
      if (service === undefined || service === null) continue;
      text(host, port, 'service name', service.name);
      text(host, port, 'product', service.product);
      text(host, port, 'version', service.version);
      text(host, port, 'extrainfo', service.extrainfo);
      noNul(host, port, 'cpe', service.cpe);
    }
  }
  return problems;
}

/**
 * Rows per INSERT on PostgreSQL. Each statement carries its rows as one JSON parameter (below), so neither
 * database's limits on parameters or compound selects apply; the bound keeps one statement's text and the server's
 * parse of it to a few megabytes for the largest batches and imports.
 */
const INSERT_CHUNK = 8192;
/**
 * Rows per INSERT on SQLite, and per piece of JSON text a HostRows is encoded in (PostgreSQL joins pieces up to
 * INSERT_CHUNK rows). better-sqlite3 runs a statement inside the event loop: a piece of 1,024 hosts or ports
 * takes 4–8 ms, so a worker reads its other nmap's stdout and XML pipes (64 KiB each, about 190 hosts of a wide
 * scan, 7 ms of nmap's work) between the statements instead of leaving that nmap blocked on full pipes for the
 * 15–30 ms of a 4,096-row statement (bench wide, docs/performance.md).
 */
const PIECE_ROWS = 1024;

/**
 * Lets the event loop read sockets and pipes before the next SQLite statement: better-sqlite3 runs each statement
 * inside the loop (a 4,096-host batch's hosts or ports insert: 15–30 ms), and meanwhile the worker's other nmap
 * blocks once its stdout and XML pipes (64 KiB: about 190 hosts of XML) are full. setImmediate runs after the
 * poll phase; another query of this process waits for the transaction's connection, as it would anyway. On
 * PostgreSQL a statement already waits for the server outside the loop: nothing to do.
 */
async function yieldToEventLoop(trx: Knex.Transaction): Promise<void> {
  if (!isPostgres(trx)) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * One entry per address (nmap can report a target twice), one port per protocol/number; first wins. Returns
 * `hosts` itself when nothing repeats (the common case: nmap lists each target once).
 */
export function mergeHosts(hosts: readonly HostResultInput[]): readonly HostResultInput[] {
  const addresses = new Set<string>();
  let repeats = false;
  for (const host of hosts) {
    if (addresses.has(host.address) || portRepeats(host.ports)) {
      repeats = true;
      break;
    }
    addresses.add(host.address);
  }
  if (!repeats) return hosts;
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

/** Whether a protocol/number comes twice. Most hosts have a few ports: those are compared pairwise, no key set. */
function portRepeats(ports: readonly PortResultInput[]): boolean {
  if (ports.length < 2) return false;
  if (ports.length <= 16) {
    for (let i = 1; i < ports.length; i++) {
      for (let j = 0; j < i; j++) {
        if (ports[i].port === ports[j].port && ports[i].protocol === ports[j].protocol) return true;
      }
    }
    return false;
  }
  const keys = new Set<string>();
  for (const port of ports) {
    const key = `${port.protocol}/${port.port}`;
    if (keys.has(key)) return true;
    keys.add(key);
  }
  return false;
}

/** A piece of an INSERT's JSON parameter: at most PIECE_ROWS rows (joinPieces joins pieces on PostgreSQL). */
export interface RowsChunk {
  /** A JSON array of rows (HostRows' tuples). */
  json: string;
  /** Rows in it. */
  rows: number;
  /** Hosts in state `up` among them (host rows), or ports in state `open` (port rows). */
  counted: number;
}

/** One host of a HostRows as its rows' JSON text (HostRows.encodedHosts): moved as is, never decoded into objects. */
export interface EncodedHost {
  address: string;
  /** Its host row (HostRows), as JSON text. */
  row: string;
  up: boolean;
  /** Its port rows, as JSON text, each with whether the port is open. */
  ports: Array<{ row: string; open: boolean }>;
}

/**
 * A batch's hosts encoded once as the rows the hosts and ports inserts take. Each statement carries its rows as
 * one JSON array, unpacked by the database (SQLite's json_each, PostgreSQL's jsonb_array_elements): a short
 * statement with a few parameters instead of eleven per row, which knex would otherwise compile and SQLite parse
 * as a compound select of 500 terms. A host row is `[address, address type, hostnames JSON, state, reason, mac,
 * os JSON, unlisted states]`, a port row `[address, protocol, port, state, reason, service name, product,
 * version, extrainfo, cpe JSON]`. A result kept until it is stored (an imported file, in pieces) is kept this
 * way: neither as objects nor encoded twice.
 */
export class HostRows {
  /** Made by HostRows.of or a HostRowsBuilder. */
  constructor(
    /** The host rows in the hosts' order (ids follow nmap's order, which the result routes list by). */
    readonly hostChunks: readonly RowsChunk[],
    readonly portChunks: readonly RowsChunk[],
    /** Hosts, one per address. */
    readonly count: number,
  ) {}

  /**
   * `hosts` checked (resultValueProblems: throws ResultValueError naming each problem), one entry per address
   * and one port per protocol and number (mergeHosts), then encoded.
   */
  static of(hosts: readonly HostResultInput[]): HostRows {
    const problems = resultValueProblems(hosts);
    if (problems.length > 0) throw new ResultValueError(problems);
    const merged = mergeHosts(hosts);
    const hostChunks: RowsChunk[] = [];
    for (let i = 0; i < merged.length; i += PIECE_ROWS) {
      const rows: unknown[][] = [];
      let up = 0;
      for (let j = i; j < Math.min(i + PIECE_ROWS, merged.length); j++) {
        rows.push(hostRow(merged[j]));
        if (merged[j].state === 'up') up++;
      }
      hostChunks.push({ json: JSON.stringify(rows), rows: rows.length, counted: up });
    }
    const portChunks: RowsChunk[] = [];
    let rows: unknown[][] = [];
    let open = 0;
    for (const host of merged) {
      for (const port of host.ports) {
        rows.push(portRow(host.address, port));
        if (port.state === 'open') open++;
        if (rows.length === PIECE_ROWS) {
          portChunks.push({ json: JSON.stringify(rows), rows: rows.length, counted: open });
          rows = [];
          open = 0;
        }
      }
    }
    if (rows.length > 0) portChunks.push({ json: JSON.stringify(rows), rows: rows.length, counted: open });
    return new HostRows(hostChunks, portChunks, merged.length);
  }

  /** Hosts in state `up`. */
  get up(): number {
    return this.hostChunks.reduce((sum, chunk) => sum + chunk.counted, 0);
  }

  /** Ports in state `open`. */
  get openPorts(): number {
    return this.portChunks.reduce((sum, chunk) => sum + chunk.counted, 0);
  }

  /**
   * The hosts back from their rows, in order: the fields the tables store (`<extraports>` as their states, each
   * with count 0), absent values undefined. HostRows.of of them gives the same rows.
   */
  hosts(): HostResultInput[] {
    const byAddress = new Map<string, HostResultInput>();
    for (const chunk of this.hostChunks) {
      for (const row of JSON.parse(chunk.json) as Array<Array<string | null>>) {
        const [address, addressType, hostnames, state, reason, mac, os, unlisted] = row as [
          string,
          string,
          string,
          string,
          ...Array<string | null>,
        ];
        byAddress.set(address, {
          address,
          addressType,
          hostnames: JSON.parse(hostnames) as HostnameEntry[],
          state,
          reason: reason ?? undefined,
          mac: mac ?? undefined,
          os: os == null ? undefined : (JSON.parse(os) as unknown),
          ports: [],
          extraPorts: unlisted == null ? undefined : unlisted.split(',').map((s) => ({ state: s, count: 0 })),
        });
      }
    }
    // A row's trailing nulls are left out (withoutTrailingNulls): a missing value is null too.
    const text = (value: string | number | null | undefined) => (value == null ? undefined : String(value));
    for (const chunk of this.portChunks) {
      for (const row of JSON.parse(chunk.json) as Array<Array<string | number | null>>) {
        const [address, protocol, port, state, reason, name, product, version, extrainfo, cpe] = row;
        const service = [name, product, version, extrainfo, cpe].every((v) => v == null)
          ? undefined
          : {
              name: text(name),
              product: text(product),
              version: text(version),
              extrainfo: text(extrainfo),
              cpe: cpe == null ? [] : (JSON.parse(String(cpe)) as string[]),
            };
        byAddress.get(String(address))?.ports.push({
          protocol: String(protocol),
          port: Number(port),
          state: String(state),
          reason: text(reason),
          service,
        });
      }
    }
    return [...byAddress.values()];
  }

  /**
   * The hosts in order, each as its rows' JSON text with its ports' (EncodedHost): to put a result's hosts in
   * another order without decoding them into objects (HostRowsBuilder.addEncoded writes them back).
   */
  encodedHosts(): EncodedHost[] {
    const byAddress = new Map<string, EncodedHost>();
    for (const chunk of this.hostChunks) {
      for (const row of JSON.parse(chunk.json) as unknown[][]) {
        const address = String(row[0]);
        byAddress.set(address, { address, row: JSON.stringify(row), up: row[3] === 'up', ports: [] });
      }
    }
    for (const chunk of this.portChunks) {
      for (const row of JSON.parse(chunk.json) as unknown[][]) {
        byAddress.get(String(row[0]))?.ports.push({ row: JSON.stringify(row), open: row[3] === 'open' });
      }
    }
    return [...byAddress.values()];
  }
}

/** A host's row (HostRows). */
function hostRow(host: HostResultInput): unknown[] {
  return withoutTrailingNulls([
    host.address,
    host.addressType,
    host.hostnames === undefined || host.hostnames.length === 0 ? '[]' : JSON.stringify(host.hostnames),
    host.state,
    host.reason ?? null,
    host.mac ?? null,
    json(host.os),
    unlistedStatesOf(host.extraPorts),
  ]);
}

/**
 * A row without its trailing nulls: a missing element reads as NULL all the same (`->>` of an index past the end,
 * on both databases), and the statements unpack less text (a wide scan's closed port: 5 values instead of 10,
 * about a sixth of SQLite's ports insert).
 */
function withoutTrailingNulls(row: unknown[]): unknown[] {
  let length = row.length;
  while (length > 0 && row[length - 1] === null) length--;
  row.length = length;
  return row;
}

/** A port's row (HostRows). */
function portRow(address: string, port: PortResultInput): unknown[] {
  const service = port.service;
  return withoutTrailingNulls([
    address,
    port.protocol,
    port.port,
    port.state,
    port.reason ?? null,
    service?.name ?? null,
    service?.product ?? null,
    service?.version ?? null,
    service?.extrainfo ?? null,
    service?.cpe?.length ? JSON.stringify(service.cpe) : null,
  ]);
}

/** JSON array text written one row at a time, cut into pieces of PIECE_ROWS rows. */
class RowsWriter {
  readonly chunks: RowsChunk[] = [];
  private text = '';
  private rows = 0;
  private counted = 0;

  add(row: unknown[], counted: boolean): void {
    this.addText(JSON.stringify(row), counted);
  }

  /** A row already written as JSON text. */
  addText(row: string, counted: boolean): void {
    // Concatenated strings stay a rope until the chunk is read: nothing is copied per row.
    this.text += (this.rows === 0 ? '[' : ',') + row;
    this.rows++;
    if (counted) this.counted++;
    if (this.rows === PIECE_ROWS) this.cut();
  }

  cut(): void {
    if (this.rows === 0) return;
    this.chunks.push({ json: this.text + ']', rows: this.rows, counted: this.counted });
    this.text = '';
    this.rows = 0;
    this.counted = 0;
  }
}

/**
 * HostRows made one host at a time, as a streaming parser hands them over (an imported file): each host is
 * checked and written as its rows' JSON text at once, so no host object outlives its element. (Keeping a piece's
 * 4,096 hosts as objects until it was encoded had the garbage collector copy each of them out of the young
 * generation: about as much time as the parse, docs/performance.md.)
 */
export class HostRowsBuilder {
  private hosts = new RowsWriter();
  private ports = new RowsWriter();
  private added = 0;

  /** Hosts added since the last `build`. */
  get count(): number {
    return this.added;
  }

  /**
   * Adds a host whose address was not added before (the caller keeps one entry per address); a port listed twice
   * (protocol and number) is stored once, the first. Throws ResultValueError (and adds nothing) for values no
   * column holds, naming each (resultValueProblems).
   */
  add(host: HostResultInput): void {
    const problems = resultValueProblems([host]);
    if (problems.length > 0) throw new ResultValueError(problems);
    const ports = portRepeats(host.ports) ? mergeHosts([host])[0].ports : host.ports;
    this.hosts.add(hostRow(host), host.state === 'up');
    for (const port of ports) this.ports.add(portRow(host.address, port), port.state === 'open');
    this.added++;
  }

  /**
   * Adds a host as HostRows.encodedHosts gave it (checked and written when it was first added), its address not
   * added before.
   */
  addEncoded(host: EncodedHost): void {
    this.hosts.addText(host.row, host.up);
    for (const port of host.ports) this.ports.addText(port.row, port.open);
    this.added++;
  }

  /** The hosts added since the last `build`, and a fresh start. */
  build(): HostRows {
    this.hosts.cut();
    this.ports.cut();
    const rows = new HostRows(this.hosts.chunks, this.ports.chunks, this.added);
    this.hosts = new RowsWriter();
    this.ports = new RowsWriter();
    this.added = 0;
    return rows;
  }
}

/**
 * The JSON parameters of one table's INSERTs: on SQLite the pieces themselves (short statements, the loop let
 * through between them), on PostgreSQL pieces joined up to INSERT_CHUNK rows (a statement is a round trip, and
 * the server's work waits outside the loop anyway).
 */
function statementsOf(trx: Knex.Transaction, pieces: readonly RowsChunk[]): readonly RowsChunk[] {
  return isPostgres(trx) ? joinPieces(pieces, INSERT_CHUNK) : pieces;
}

/**
 * Consecutive pieces joined into as few as hold at most `maxRows` rows each, in order (a piece larger than
 * `maxRows` stays one); each joined piece's `json` is one array of its pieces' rows, `rows` and `counted` their
 * sums. Returns `pieces` itself when there is nothing to join.
 */
export function joinPieces(pieces: readonly RowsChunk[], maxRows: number): readonly RowsChunk[] {
  if (pieces.length < 2) return pieces;
  const joined: RowsChunk[] = [];
  let group: RowsChunk[] = [];
  let rows = 0;
  const cut = () => {
    if (group.length === 0) return;
    // Each piece is `[row,row,…]`: the group's rows are one array of them all.
    const json = group.length === 1 ? group[0].json : `[${group.map((p) => p.json.slice(1, -1)).join(',')}]`;
    joined.push({ json, rows, counted: group.reduce((sum, p) => sum + p.counted, 0) });
    group = [];
    rows = 0;
  };
  for (const piece of pieces) {
    if (group.length > 0 && rows + piece.rows > maxRows) cut();
    group.push(piece);
    rows += piece.rows;
  }
  cut();
  return joined;
}

/** What insertHosts stored. */
export interface InsertedHosts {
  /** Every host was inserted (none of the addresses was stored for the run before). */
  allNew: boolean;
  /** Rows inserted in state `up`. */
  up: number;
}

/**
 * Inserts the batch's hosts (HostRows), in their order. A host another batch of the run already stored keeps its
 * row (ON CONFLICT DO NOTHING). `up` counts the rows inserted: the hosts up of `rows` when all were new, else
 * read back by batch id and address (rows with this batch's id are only ever inserted in the transaction that
 * claimed the batch, and a batch is stored once; one stored in pieces inserted others before, but an address is
 * in one piece only). PostgreSQL tries the rows without the conflict clause first, in a savepoint (below).
 */
export async function insertHosts(
  trx: Knex.Transaction,
  resultId: number,
  batchId: number,
  rows: HostRows,
  createdAt: Date,
): Promise<InsertedHosts> {
  if (rows.count === 0) return { allNew: true, up: 0 };
  const statements = statementsOf(trx, rows.hostChunks);
  const onConflict = '\n       on conflict (result_id, address) do nothing';
  const sql = isPostgres(trx)
    ? `insert into hosts (result_id, batch_id, address, address_type, hostnames, state, reason, mac, os,
         unlisted_states, created_at)
       select ?, ?, r ->> 0, r ->> 1, (r ->> 2)::jsonb, r ->> 3, r ->> 4, r ->> 5, (r ->> 6)::jsonb, r ->> 7, ?
       from jsonb_array_elements(?::jsonb) with ordinality as t(r, n) order by n`
    : `insert into hosts (result_id, batch_id, address, address_type, hostnames, state, reason, mac, os,
         unlisted_states, created_at)
       select ?, ?, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6,
         value ->> 7, ?
       from json_each(?) where true`;
  if (isPostgres(trx)) {
    // Almost always no address of the batch was stored before, and the conflict clause costs PostgreSQL a
    // speculative insertion a row (about a sixth of the statement): first without it, in a savepoint; a unique
    // violation (an address the run holds already) rolls that back and the rows go in again with the clause.
    try {
      await trx.transaction(async (savepoint) => {
        for (const chunk of statements) {
          await execute(savepoint, sql, [resultId, batchId, createdAt, chunk.json]);
        }
      });
      return { allNew: true, up: rows.up };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
  }
  let inserted = 0;
  for (const [index, chunk] of statements.entries()) {
    if (index > 0) await yieldToEventLoop(trx);
    inserted += (await execute(trx, sql + onConflict, [resultId, batchId, createdAt, chunk.json])).changes;
  }
  if (inserted === rows.count) return { allNew: true, up: rows.up };
  let up = 0;
  for (const chunk of statements) {
    const counted = await execute<{ up: number | string }>(
      trx,
      isPostgres(trx)
        ? `select count(*) as up from hosts where batch_id = ? and state = 'up'
             and address in (select r ->> 0 from jsonb_array_elements(?::jsonb) as t(r))`
        : `select count(*) as up from hosts where batch_id = ? and state = 'up'
             and address in (select value ->> 0 from json_each(?))`,
      [batchId, chunk.json],
    );
    up += Number(counted.rows[0]?.up ?? 0);
  }
  return { allNew: false, up };
}

/**
 * Inserts the ports of the batch's hosts (HostRows), each joined to its host's row of the run by address (so a
 * host another batch stored gains this batch's new ports); a port already stored is skipped. Returns how many
 * open ports it stored: when every host was new (`allNew`) every row is inserted (with no conflict clause: none
 * can conflict), so that is the open ports of `rows`; otherwise the inserted rows' states are counted.
 */
export async function insertPorts(
  trx: Knex.Transaction,
  resultId: number,
  batchId: number,
  rows: HostRows,
  allNew: boolean,
): Promise<number> {
  // When every host was new, so is every port: its host's row was inserted by this transaction, and mergeHosts
  // left one port per protocol and number. Then the rows go in without `on conflict`, which PostgreSQL pays for
  // with a probe of the unique index and a speculative insertion a row (about a sixth of the ports insert).
  const onConflict = allNew
    ? ''
    : '\n       on conflict (host_id, protocol, port) do nothing returning state';
  // SQLite: `cross join` keeps json_each as the outer loop (each port finds its host through the unique index
  // on result_id, address). PostgreSQL plans the join itself, by hashing the hosts: when every host was new they
  // are this batch's rows (its batch_id index) rather than the run's, which by the last batch of a /16 would be
  // 65,536 rows to hash.
  const byBatch = allNew && isPostgres(trx);
  const owner = byBatch ? 'h.batch_id' : 'h.result_id';
  const ownerId = byBatch ? batchId : resultId;
  const sql = isPostgres(trx)
    ? `insert into ports (host_id, protocol, port, state, reason, service_name, product, version, extrainfo, cpe)
       select h.id, r ->> 1, (r ->> 2)::integer, r ->> 3, r ->> 4, r ->> 5, r ->> 6, r ->> 7, r ->> 8,
         (r ->> 9)::jsonb
       from jsonb_array_elements(?::jsonb) as t(r) join hosts as h on ${owner} = ? and h.address = r ->> 0${onConflict}`
    : `insert into ports (host_id, protocol, port, state, reason, service_name, product, version, extrainfo, cpe)
       select h.id, p.value ->> 1, p.value ->> 2, p.value ->> 3, p.value ->> 4, p.value ->> 5, p.value ->> 6,
         p.value ->> 7, p.value ->> 8, p.value ->> 9
       from json_each(?) as p cross join hosts as h on h.result_id = ? and h.address = p.value ->> 0
       where true${onConflict}`;
  let open = 0;
  for (const chunk of statementsOf(trx, rows.portChunks)) {
    await yieldToEventLoop(trx);
    if (allNew) {
      await execute(trx, sql, [chunk.json, ownerId]);
      open += chunk.counted;
      continue;
    }
    const inserted = await execute<{ state: string }>(trx, sql, [chunk.json, ownerId]);
    for (const row of inserted.rows) if (row.state === 'open') open += 1;
  }
  return open;
}
