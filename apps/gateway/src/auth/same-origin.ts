// Cross-site request checks for cookie-authenticated requests (state changes and WebSocket upgrades), by the
// standard headers browsers send: Origin, else Referer, else Sec-Fetch-Site. Clients that send none of them
// are not browsers, and a cross-site page cannot make a browser omit them.
import type { IncomingMessage } from 'node:http';

export function requestOrigin(request: IncomingMessage, trustedProto?: string): string | undefined {
  const host = request.headers.host;
  if (!host) return undefined;
  const proto = trustedProto ?? ((request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  return `${proto}://${host}`.toLowerCase();
}

export function isCrossSite(request: IncomingMessage, allowedOrigins: string[]): boolean {
  const allowed = new Set(allowedOrigins.map((o) => o.toLowerCase()));
  const origin = headerValue(request, 'origin');
  if (origin !== undefined) return origin === 'null' || !allowed.has(origin.toLowerCase());
  const referer = headerValue(request, 'referer');
  if (referer !== undefined) {
    try {
      return !allowed.has(new URL(referer).origin.toLowerCase());
    } catch {
      return true;
    }
  }
  return headerValue(request, 'sec-fetch-site') === 'cross-site';
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
