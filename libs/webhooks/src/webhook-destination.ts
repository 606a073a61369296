// The allow-list of webhook destinations (WEBHOOK_ALLOW): checked when a rule is saved and again before every
// delivery, after resolving the name once; the delivery then connects to that address and no other, so a name
// that changes its answer between the check and the connect (DNS rebinding) cannot reach an internal service.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { cidrBlockList, inBlockList } from './webhook-filter';

/** Resolves a name to all its addresses (dns.lookup with `all`; tests pass their own). */
export type ResolveAll = (host: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolve: ResolveAll = (host) => dnsLookup(host, { all: true, verbatim: true });

/** Where webhooks may go: WEBHOOK_ALLOW's CIDRs, and the ports never allowed (this system's own services). */
export interface WebhookPolicy {
  allow: readonly string[];
  deniedPorts: ReadonlyArray<{ port: number; service: string }>;
}

/** Where a delivery may connect: the URL, its host name, and the one address checked against the list. */
export type Destination =
  { ok: true; url: URL; hostname: string; address: string; family: 4 | 6 } | { ok: false; reason: string };

/**
 * Checks `rawUrl` against `policy` (or a bare list of allowed CIDRs). An empty allow-list refuses everything
 * (webhooks are off). http/https only, no credentials in the URL; the port (80/443 when the URL has none) none of
 * the denied ports, this system's own services, whatever the address; the host an IP literal inside the list, or
 * a name whose every address is inside (a name with one address outside is refused, since the connect could
 * pick it). Never throws: a refusal says why, naming the URL.
 */
export async function checkWebhookDestination(
  rawUrl: string,
  policy: readonly string[] | WebhookPolicy,
  resolve: ResolveAll = systemResolve,
): Promise<Destination> {
  const { allow, deniedPorts } = Array.isArray(policy)
    ? { allow: policy as readonly string[], deniedPorts: [] }
    : (policy as WebhookPolicy);
  if (allow.length === 0) {
    return { ok: false, reason: 'Webhooks are off: an administrator has not set WEBHOOK_ALLOW' };
  }
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { ok: false, reason: `${rawUrl} is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: `${rawUrl}: only http and https URLs can be webhooks` };
  }
  if (url.username || url.password)
    return { ok: false, reason: `${rawUrl}: credentials in the URL are refused` };
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const denied = deniedPorts.find((d) => d.port === port);
  if (denied) {
    return {
      ok: false,
      reason: `${rawUrl}: port ${port} is ${denied.service}'s, one of this system's own services; webhooks never go there`,
    };
  }
  const list = cidrBlockList(allow);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const refused = (what: string) => ({
    ok: false as const,
    reason: `${rawUrl}: ${what} outside WEBHOOK_ALLOW; webhooks are delivered only to allowed addresses`,
  });
  if (isIP(hostname)) {
    if (!inBlockList(list, hostname)) return refused(`${hostname} is`);
    return { ok: true, url, hostname, address: hostname, family: isIP(hostname) as 4 | 6 };
  }
  let addresses: Array<{ address: string; family: number }>;
  try {
    addresses = await resolve(hostname);
  } catch (error) {
    return { ok: false, reason: `${rawUrl}: ${hostname} does not resolve (${(error as Error).message})` };
  }
  if (addresses.length === 0) return { ok: false, reason: `${rawUrl}: ${hostname} resolves to no address` };
  const outside = addresses.find((a) => !inBlockList(list, a.address));
  if (outside) return refused(`${hostname} resolves to ${outside.address},`);
  const [first] = addresses;
  return { ok: true, url, hostname, address: first!.address, family: first!.family === 6 ? 6 : 4 };
}
