// Host header names, for the DNS-rebinding checks of the processes that listen on loopback (the gateway's API, the
// metrics pages): a page of another site whose name is re-pointed at 127.0.0.1 arrives with that name as Host.
import { isIP } from 'node:net';

/**
 * The lower-case host name of a Host header value (`[::1]` with its brackets, a final dot dropped: `localhost.` is
 * `localhost`; the port ignored), or undefined if malformed ("a@b", "a/b" or "a?b" are not a Host header).
 */
export function hostHeaderName(host: string): string | undefined {
  try {
    const url = new URL(`http://${host}`);
    if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return undefined;
    return url.hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return undefined;
  }
}

/**
 * Whether a host name (hostHeaderName's) can only mean this machine to a browser: `localhost`, `*.localhost`
 * (RFC 6761 §6.3), or an IP address (a page whose origin is an address was served from that address, so no name
 * was rebound).
 */
export function namesThisMachine(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost') || isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 0;
}
