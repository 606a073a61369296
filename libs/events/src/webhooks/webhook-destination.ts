// The allow-list of webhook destinations (WEBHOOK_ALLOW): checked when a rule is saved and again before every
// delivery, after resolving the name once; the delivery then connects to that address and no other, so a name
// that changes its answer between the check and the connect (DNS rebinding) cannot reach an internal service.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { cidrBlockList, inBlockList } from './webhook-filter';

/** Resolves a name to all its addresses (dns.lookup with `all`; tests pass their own). */
export type ResolveAll = (host: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolve: ResolveAll = (host) => dnsLookup(host, { all: true, verbatim: true });

/** Where a delivery may connect: the URL, its host name, and the one address checked against the list. */
export type Destination =
  { ok: true; url: URL; hostname: string; address: string; family: 4 | 6 } | { ok: false; reason: string };

/**
 * Checks `rawUrl` against `allow` (CIDRs). http/https only, no credentials in the URL; the host must be an IP
 * literal inside the list, or a name whose every address is inside (a name with one address outside is refused,
 * since the connect could pick it). Never throws: a refusal says why, naming the URL.
 */
export async function checkWebhookDestination(
  rawUrl: string,
  allow: readonly string[],
  resolve: ResolveAll = systemResolve,
): Promise<Destination> {
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
