// A delta's change lists as rows of their own (the `delta_changes` table, docs/delta.md "Storage"): one row per
// entry, numbered by `seq` in the order of the lists (new up hosts, new down hosts, added, removed and changed
// ports, unverified), so a report's changes can be read — and its CSV written — a page at a time, in order.
// Pure: encoding and decoding only; the delta service writes the rows and the gateway reads them.
import type { Delta, HostChange, PortChange, ServiceChange, ServiceFields, Unverified } from './diff';

/** The kinds of change row, in the order their lists are stored (and the CSV's sections are written). */
export const DELTA_CHANGE_KINDS = [
  'new_up_host',
  'new_down_host',
  'added_port',
  'removed_port',
  'changed_port',
  'unverified_host',
  'unverified_port',
] as const;
export type DeltaChangeKind = (typeof DELTA_CHANGE_KINDS)[number];

/** The kinds that are changes (unverified entries are not): what the summary's trend counts. */
export const HOST_CHANGE_KINDS: readonly DeltaChangeKind[] = ['new_up_host', 'new_down_host'];
export const PORT_CHANGE_KINDS: readonly DeltaChangeKind[] = ['added_port', 'removed_port', 'changed_port'];

/**
 * One stored change, without its report id. `before`/`after` hold what the baseline/current run saw:
 * hosts `{hostnames, open_ports}`, ports the service fields (`state, service, product, version, extrainfo`),
 * unverified entries `{state}`. `detail` holds the rest: `{changed}` of a changed port, `{reason}` of an
 * unverified entry.
 */
export interface DeltaChangeRow extends Partial<ChangeMarks> {
  seq: number;
  kind: DeltaChangeKind;
  address: string;
  protocol: string | null;
  port: number | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  detail: Record<string, unknown> | null;
}

/** A rescan's verdict on one change (docs/delta.md "Verified changes"). */
export type ChangeVerification = 'confirmed' | 'not_confirmed' | 'unverifiable';
/** A port against the scan's expected ports (docs/delta.md "Expected ports"). */
export type ChangeExposure = 'expected' | 'unexpected' | 'missing';

/**
 * What is known of a change besides what the diff saw (issue 21), columns of its delta_changes row: the rescan's
 * verdict (null while pending or when not verified), whether its port flaps, its exposure (null without expected
 * ports), and who accepted it when (user id; null: not accepted).
 */
export interface ChangeMarks {
  verification: ChangeVerification | null;
  flapping: boolean;
  exposure: ChangeExposure | null;
  accepted_at: Date | string | null;
  accepted_by: number | null;
  /** The accepting user's name, when it is known (null: not accepted, or the user is gone). */
  accepted_by_username?: string | null;
}

/**
 * The marks of a change as the API lists them beside its entry: `change_id` (its `seq`, what
 * POST /api/report/{id}/accept takes), `verification` and the rescan that gave it (`verification_result_id`),
 * `flapping`, `exposure`, and `accepted` (`{by, at}` or null).
 */
export interface ChangeMarksView {
  change_id: number;
  verification: ChangeVerification | null;
  /** The rescan's run (trigger `verify`) that gave `verification`; null while there is none. */
  verification_result_id: number | null;
  flapping: boolean;
  exposure: ChangeExposure | null;
  accepted: { by: number | null; by_username: string | null; at: string } | null;
}

/** The API's marks of a change row (see ChangeMarksView); `verifyResultId` is its report's rescan, if any. */
export function changeMarksView(
  row: Pick<DeltaChangeRow, 'seq'> & Partial<ChangeMarks>,
  verifyResultId: number | null = null,
): ChangeMarksView {
  return {
    change_id: row.seq,
    verification: row.verification ?? null,
    verification_result_id: row.verification ? verifyResultId : null,
    flapping: row.flapping ?? false,
    exposure: row.exposure ?? null,
    accepted: row.accepted_at
      ? {
          by: row.accepted_by ?? null,
          by_username: row.accepted_by_username ?? null,
          at: new Date(row.accepted_at).toISOString(),
        }
      : null,
  };
}

/** The lists of a Delta that are stored as rows. */
export type DeltaLists = Pick<
  Delta,
  'new_up_hosts' | 'new_down_hosts' | 'added_ports' | 'removed_ports' | 'changed_ports' | 'unverified'
>;

const hostFacts = (h: HostChange) => ({ hostnames: h.hostnames, open_ports: h.open_ports });
const serviceFacts = (p: ServiceFields) => ({
  state: p.state,
  service: p.service,
  product: p.product,
  version: p.version,
  extrainfo: p.extrainfo,
});

/** The rows of a delta's lists, `seq` from 1 in list order. Lazy: the caller batches them into inserts. */
export function* deltaChangeRows(delta: DeltaLists): Generator<DeltaChangeRow> {
  let seq = 0;
  const row = (r: Omit<DeltaChangeRow, 'seq'>): DeltaChangeRow => ({ seq: ++seq, ...r });
  const none = { protocol: null, port: null, before: null, after: null, detail: null };
  for (const h of delta.new_up_hosts)
    yield row({ ...none, kind: 'new_up_host', address: h.host, after: hostFacts(h) });
  for (const h of delta.new_down_hosts) {
    yield row({ ...none, kind: 'new_down_host', address: h.host, before: hostFacts(h) });
  }
  const at = (p: { host: string; protocol: string; port: number }) => ({
    address: p.host,
    protocol: p.protocol,
    port: p.port,
  });
  for (const p of delta.added_ports)
    yield row({ ...none, kind: 'added_port', ...at(p), after: serviceFacts(p) });
  for (const p of delta.removed_ports) {
    yield row({ ...none, kind: 'removed_port', ...at(p), before: serviceFacts(p) });
  }
  for (const c of delta.changed_ports) {
    yield row({
      kind: 'changed_port',
      ...at(c),
      before: serviceFacts(c.before),
      after: serviceFacts(c.after),
      detail: { changed: c.changed },
    });
  }
  for (const u of delta.unverified) {
    yield row({
      kind: u.port === undefined ? 'unverified_host' : 'unverified_port',
      address: u.host,
      protocol: u.protocol ?? null,
      port: u.port ?? null,
      before: { state: u.baseline_state },
      after: u.current_state === undefined ? null : { state: u.current_state },
      detail: { reason: u.reason },
    });
  }
}

/** A change row back as the entry of its Delta list (the API's `delta_data.delta` shape). */
export function deltaChangeEntry(
  row: Pick<DeltaChangeRow, 'kind' | 'address' | 'protocol' | 'port' | 'before' | 'after' | 'detail'>,
): { list: keyof DeltaLists; entry: HostChange | PortChange | ServiceChange | Unverified } {
  const b = (row.before ?? {}) as Record<string, never>;
  const a = (row.after ?? {}) as Record<string, never>;
  const d = (row.detail ?? {}) as Record<string, never>;
  const host = (f: Record<string, never>): HostChange => ({
    host: row.address,
    hostnames: f.hostnames ?? [],
    open_ports: f.open_ports ?? 0,
  });
  const fields = (f: Record<string, never>): ServiceFields => ({
    state: f.state,
    service: f.service ?? null,
    product: f.product ?? null,
    version: f.version ?? null,
    extrainfo: f.extrainfo ?? null,
  });
  const port = (f: Record<string, never>): PortChange => ({
    host: row.address,
    protocol: row.protocol ?? '',
    port: Number(row.port),
    ...fields(f),
  });
  switch (row.kind) {
    case 'new_up_host':
      return { list: 'new_up_hosts', entry: host(a) };
    case 'new_down_host':
      return { list: 'new_down_hosts', entry: host(b) };
    case 'added_port':
      return { list: 'added_ports', entry: port(a) };
    case 'removed_port':
      return { list: 'removed_ports', entry: port(b) };
    case 'changed_port':
      return {
        list: 'changed_ports',
        entry: {
          host: row.address,
          protocol: row.protocol ?? '',
          port: Number(row.port),
          changed: d.changed ?? [],
          before: fields(b),
          after: fields(a),
        },
      };
    default:
      return {
        list: 'unverified',
        entry: {
          host: row.address,
          ...(row.kind === 'unverified_port' ? { protocol: row.protocol ?? '', port: Number(row.port) } : {}),
          baseline_state: b.state,
          ...(row.after ? { current_state: a.state } : {}),
          reason: d.reason,
        },
      };
  }
}

/**
 * The Delta lists of a report's change rows, read in `seq` order (pages of any size); each entry carries its
 * marks (ChangeMarksView: change_id, verification, flapping, exposure, accepted).
 */
export async function deltaListsOf(
  rows: AsyncIterable<DeltaChangeRow> | Iterable<DeltaChangeRow>,
  verifyResultId: number | null = null,
) {
  const lists: DeltaLists = {
    new_up_hosts: [],
    new_down_hosts: [],
    added_ports: [],
    removed_ports: [],
    changed_ports: [],
    unverified: [],
  };
  for await (const row of rows) {
    const { list, entry } = deltaChangeEntry(row);
    (lists[list] as unknown[]).push({ ...entry, ...changeMarksView(row, verifyResultId) });
  }
  return lists;
}
