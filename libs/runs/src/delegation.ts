// Delegation by scan_range (seed 003, docs/clients.md): which scanner client scans which of a run's addresses.
// Pure interval arithmetic over the run's TargetSet and the clients' CIDRs, so a /8 never becomes an array; the
// outcome is stored with the run (its parts), and batch k of the run is cut from it at any later time.
import { AddressInterval, intervalCidrs, parseIpAddress, TargetSet } from '@nso/nmap';

/** A client that may get work now: approved, enabled, online; its range as normalised CIDRs. */
export interface DelegableClient {
  clientId: string;
  scanRange: readonly string[];
  /** `agent`: an HTTP agent, whose batches are pushed as tasks; a worker pool otherwise. */
  kind?: 'pool' | 'agent';
}

/**
 * The addresses one group of clients owns: the clients whose most specific covering range is the same CIDR (or
 * the same set of clients over several CIDRs) share them. `ranges` are CIDRs; stored on the run (`delegation`).
 */
export interface DelegationPart {
  /** Client ids, sorted; the part's batches go to them in turn. */
  clients: string[];
  ranges: string[];
  /** Which of `clients` are HTTP agents (absent: none). */
  agents?: string[];
  /** Addresses per batch of this part, when not the run's chunk_size (a part of agents only: AGENT_TASK_TARGETS). */
  chunkSize?: number;
}

/** A run's targets split among clients; `unassigned` names (as CIDRs, single addresses bare) what none covers. */
export interface Delegation {
  parts: DelegationPart[];
  unassigned: string[];
}

/**
 * The pool that scanned every run stored before delegation existed (their `delegation` column is null): the
 * single-machine default, which covered the whole scope.
 */
export const LEGACY_POOL = 'local';

interface OwnedCidr extends AddressInterval {
  prefix: number;
  clients: string[];
}

/**
 * Splits the run's addresses among the clients: each address goes to the clients whose most specific range
 * (longest prefix) covers it; clients with that same range share it. Only parts that hold at least one address
 * are returned, in address order. The clients' ranges need not be in the scan scope: the set's addresses are
 * (the run's targets were checked), so the part of a range outside the scope never gets an address.
 */
export function delegateTargets(set: TargetSet, clients: readonly DelegableClient[]): Delegation {
  const cidrs = ownedCidrs(set, clients);
  const agentIds = new Set(clients.filter((c) => c.kind === 'agent').map((c) => c.clientId));
  // The elementary segments between consecutive CIDR boundaries, each owned by its most specific CIDR.
  const bounds = [...new Set(cidrs.flatMap((c) => [c.first, c.last + 1n]))].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const byGroup = new Map<string, { clients: string[]; segments: AddressInterval[] }>();
  const owned: AddressInterval[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const segment = { first: bounds[i], last: bounds[i + 1] - 1n };
    let owner: OwnedCidr | undefined;
    for (const c of cidrs) {
      if (c.first <= segment.first && c.last >= segment.last && (!owner || c.prefix > owner.prefix))
        owner = c;
    }
    if (!owner) continue;
    const key = owner.clients.join('\n');
    const group = byGroup.get(key) ?? { clients: owner.clients, segments: [] };
    appendInterval(group.segments, segment);
    byGroup.set(key, group);
    appendInterval(owned, segment);
  }
  const parts = [...byGroup.values()]
    .map((group) => ({ group, part: set.intersect(group.segments) }))
    .filter(({ part }) => part.count > 0)
    .sort((a, b) => (a.part.intervals[0].first < b.part.intervals[0].first ? -1 : 1))
    .map(({ group }) => {
      const agents = group.clients.filter((id) => agentIds.has(id));
      return {
        clients: group.clients,
        ranges: group.segments.flatMap((s) => intervalCidrs(set.family, s.first, s.last)),
        ...(agents.length > 0 ? { agents } : {}),
      };
    });
  return { parts, unassigned: set.intersect(complement(owned, set)).toCidrs() };
}

/** One part of a run as DelegatedBatches cuts it (partSizes). */
export interface PartSize {
  clients: string[];
  agents: string[];
  /** The part's addresses as CIDRs, a single address bare. */
  cidrs: string[];
  targets: number;
  batches: number;
  chunkSize: number;
}

/**
 * A run's batches over its delegation: the parts are cut one after the other, so batch numbers stay global
 * (1 … total over the concatenation of the parts, as the run state's window counts them), and batch k of a part
 * goes to its clients in turn. Lazy like TargetSet: building it costs O(#intervals × #parts).
 */
export class DelegatedBatches {
  /** Batches of the whole run. */
  readonly total: number;
  /** Addresses delegated (the sum of the parts). */
  readonly targets: number;
  private readonly parts: Array<{
    size: number;
    clients: string[];
    agents: ReadonlySet<string>;
    set: TargetSet;
    firstSeq: number;
    batches: number;
  }>;

  /** `parts` null: a run stored before delegation, wholly the LEGACY_POOL's. */
  constructor(
    private readonly set: TargetSet,
    parts: readonly DelegationPart[] | null,
    chunkSize: number,
  ) {
    let seq = 1;
    let targets = 0;
    const all: ReadonlyArray<{
      clients: string[];
      ranges: string[] | null;
      agents?: string[];
      chunkSize?: number;
    }> = parts ?? [{ clients: [LEGACY_POOL], ranges: null }];
    this.parts = all.map((part) => {
      const partSet = part.ranges === null ? set : set.intersect(cidrIntervals(part.ranges, set));
      const size = part.chunkSize ?? chunkSize;
      const batches = Math.ceil(partSet.count / size);
      const cut = {
        size,
        clients: part.clients,
        agents: new Set(part.agents ?? []),
        set: partSet,
        firstSeq: seq,
        batches,
      };
      seq += batches;
      targets += partSet.count;
      return cut;
    });
    this.total = seq - 1;
    this.targets = targets;
  }

  /** Batch `seq` (1-based): the client whose queue it goes to, its addresses and their user-given names. */
  batch(seq: number): {
    clientId: string;
    agent: boolean;
    targets: string[];
    hostnames: Record<string, string[]>;
  } {
    const part = this.partOf(seq);
    const index = seq - part.firstSeq;
    const targets = part.set.slice(index * part.size, part.size);
    const clientId = part.clients[index % part.clients.length];
    return { clientId, agent: part.agents.has(clientId), targets, hostnames: this.set.namesFor(targets) };
  }

  /** Whether batch `seq` goes to an HTTP agent (pushed as a task) rather than to a pool's queue. */
  isAgentBatch(seq: number): boolean {
    const part = this.partOf(seq);
    return part.agents.has(part.clients[(seq - part.firstSeq) % part.clients.length]);
  }

  /** The client batch `seq` goes to. */
  clientOf(seq: number): string {
    const part = this.partOf(seq);
    return part.clients[(seq - part.firstSeq) % part.clients.length];
  }

  /**
   * Each part as it is cut: its clients (and which of them are agents), its addresses as CIDRs (a single
   * address bare) and their count, its batches and batch size; in part order (batch numbers run through the
   * parts one after the other).
   */
  partSizes(): PartSize[] {
    return this.parts.map((p) => ({
      clients: p.clients,
      agents: p.clients.filter((id) => p.agents.has(id)),
      cidrs: p.set.toCidrs(),
      targets: p.set.count,
      batches: p.batches,
      chunkSize: p.size,
    }));
  }

  /** The clients that get at least one batch, in part order. */
  clientsTriggered(): string[] {
    const ids = this.parts.flatMap((p) => p.clients.slice(0, Math.min(p.batches, p.clients.length)));
    return [...new Set(ids)];
  }

  private partOf(seq: number) {
    const part = this.parts.find((p) => seq >= p.firstSeq && seq < p.firstSeq + p.batches);
    if (!part) throw new RangeError(`batch ${seq} is not one of the run's ${this.total} batches`);
    return part;
  }
}

/** Every CIDR of every client, of the set's family, with the clients that hold exactly that CIDR. */
function ownedCidrs(set: TargetSet, clients: readonly DelegableClient[]): OwnedCidr[] {
  const byCidr = new Map<string, OwnedCidr>();
  for (const client of clients) {
    for (const cidr of client.scanRange) {
      const block = cidrBlock(cidr);
      if (!block || block.family !== set.family) continue;
      const key = `${block.first}/${block.prefix}`;
      const owned = byCidr.get(key) ?? {
        first: block.first,
        last: block.last,
        prefix: block.prefix,
        clients: [],
      };
      if (!owned.clients.includes(client.clientId)) owned.clients.push(client.clientId);
      byCidr.set(key, owned);
    }
  }
  for (const owned of byCidr.values()) owned.clients.sort();
  return [...byCidr.values()];
}

/** CIDRs (or bare addresses) as sorted, merged intervals of the set's family. */
function cidrIntervals(cidrs: readonly string[], set: TargetSet): AddressInterval[] {
  const blocks = cidrs.flatMap((cidr) => {
    const block = cidrBlock(cidr);
    return block && block.family === set.family ? [{ first: block.first, last: block.last }] : [];
  });
  blocks.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: AddressInterval[] = [];
  for (const block of blocks) appendInterval(out, block);
  return out;
}

function cidrBlock(cidr: string) {
  const [address, prefixText] = cidr.split('/');
  const ip = parseIpAddress(address);
  if (!ip) return undefined;
  const width = ip.family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > width) return undefined;
  const size = 1n << BigInt(width - prefix);
  const first = ip.value - (ip.value % size);
  return { family: ip.family, prefix, first, last: first + size - 1n };
}

/** Appends an interval to a sorted list, joining it with the last one when they touch. */
function appendInterval(list: AddressInterval[], interval: AddressInterval): void {
  const last = list[list.length - 1];
  if (last && interval.first <= last.last + 1n) {
    if (interval.last > last.last) last.last = interval.last;
  } else {
    list.push({ ...interval });
  }
}

/** The addresses of the set's span not in `owned` (sorted, disjoint). */
function complement(owned: readonly AddressInterval[], set: TargetSet): AddressInterval[] {
  if (set.intervals.length === 0) return [];
  let cursor = set.intervals[0].first;
  const end = set.intervals[set.intervals.length - 1].last;
  const out: AddressInterval[] = [];
  for (const interval of owned) {
    if (interval.first > cursor) out.push({ first: cursor, last: interval.first - 1n });
    if (interval.last + 1n > cursor) cursor = interval.last + 1n;
  }
  if (cursor <= end) out.push({ first: cursor, last: end });
  return out;
}
