// Which changes of a delta report a webhook rule wants: pure functions over change rows (docs/notifications.md
// "Webhooks"), shared by the delta service (does the rule match at all?) and the worker (which changes to send).
import { BlockList, isIP } from 'node:net';
import type { WebhookFilter, WebhookKind } from '@nso/persistence';

/** A delta_changes row as the matcher needs it (docs/delta.md "Storage"); kind is the singular row kind. */
export interface WebhookChange {
  kind: string;
  address: string;
  protocol: string | null;
  port: number | null;
  /** Issue 21 marks (absent: a change without them, sent as before). */
  verification?: string | null;
  flapping?: boolean;
  exposure?: string | null;
}

/** A filter's list kind → the delta_changes kind it selects. Unverified entries are never sent. */
const ROW_KIND: Record<WebhookKind, string> = {
  new_up_hosts: 'new_up_host',
  new_down_hosts: 'new_down_host',
  added_ports: 'added_port',
  removed_ports: 'removed_port',
  changed_ports: 'changed_port',
};
const SENT_KINDS = new Set(Object.values(ROW_KIND));

/**
 * CIDR rules, one BlockList per address family. Node's BlockList matches an IPv4 address against its IPv6 rules
 * too (as `::ffff:a.b.c.d`), so one list holding `::/0` ("any IPv6 destination") would admit every IPv4 address:
 * each family is checked against its own rules only.
 */
export interface CidrList {
  readonly ipv4: BlockList;
  readonly ipv6: BlockList;
}

/**
 * The CidrList of CIDRs (`10.0.0.0/8`, `::1/128`) or bare addresses. Throws on an entry that is neither, naming it:
 * the gateway validates before storing, so a stored rule always compiles.
 */
export function cidrBlockList(cidrs: readonly string[]): CidrList {
  const list: CidrList = { ipv4: new BlockList(), ipv6: new BlockList() };
  for (const cidr of cidrs) {
    const [address, prefix, extra] = cidr.trim().split('/');
    const family = isIP(address ?? '');
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (family === 0 || extra !== undefined) throw new Error(`"${cidr}" is not a CIDR`);
    if (prefix === undefined) {
      list[type].addAddress(address!, type);
      continue;
    }
    const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (!(bits >= 0 && bits <= (family === 6 ? 128 : 32))) throw new Error(`"${cidr}" is not a CIDR`);
    list[type].addSubnet(address!, bits, type);
  }
  return list;
}

/**
 * Whether `address` (an IP literal) is inside `list`, by the rules of its own family; anything that is not an
 * address is not.
 */
export function inBlockList(list: CidrList, address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  return list[type].check(address, type);
}

/** A filter compiled once per rule: `matches(change)` is then cheap over thousands of rows. */
export interface CompiledFilter {
  /** Whether the report of scan `scanId` can match at all (the `scan_ids` criterion). */
  scanMatches(scanId: number): boolean;
  matches(change: WebhookChange): boolean;
}

/**
 * Compiles a rule's filter. Every non-empty criterion must hold (an absent or empty one holds for everything);
 * within one criterion any value does. `ports` and `protocols` hold only for a change that has a port, so a
 * rule on port 22 hears of no host changes. Unverified entries (docs/delta.md) never match, nor changes of
 * flapping ports; changes a confirmation rescan did not confirm match only when the rule (`include_unconfirmed`)
 * or the scan (`scan.announceUnconfirmed`, its announce_unconfirmed) asks for them. `exposures` holds only for
 * a change whose exposure is listed.
 */
export function compileWebhookFilter(
  filter: WebhookFilter,
  scan: { announceUnconfirmed?: boolean } = {},
): CompiledFilter {
  const unconfirmed = filter.include_unconfirmed === true || scan.announceUnconfirmed === true;
  const exposures = filter.exposures?.length ? new Set<string>(filter.exposures) : undefined;
  const kinds = filter.kinds?.length ? new Set(filter.kinds.map((k) => ROW_KIND[k])) : undefined;
  const ports = filter.ports?.length ? new Set(filter.ports) : undefined;
  const protocols = filter.protocols?.length ? new Set(filter.protocols) : undefined;
  const hosts = filter.host_cidrs?.length ? cidrBlockList(filter.host_cidrs) : undefined;
  const scans = filter.scan_ids?.length ? new Set(filter.scan_ids) : undefined;
  return {
    scanMatches: (scanId) => !scans || scans.has(scanId),
    matches: (change) =>
      SENT_KINDS.has(change.kind) &&
      (!kinds || kinds.has(change.kind)) &&
      (!ports || (change.port !== null && ports.has(change.port))) &&
      (!protocols || (change.protocol !== null && protocols.has(change.protocol))) &&
      (!hosts || inBlockList(hosts, change.address)) &&
      change.flapping !== true &&
      (unconfirmed || !change.verification || change.verification === 'confirmed') &&
      (!exposures || (change.exposure != null && exposures.has(change.exposure))),
  };
}
