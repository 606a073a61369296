// Cross-site request checks for cookie-authenticated requests (state changes and WebSocket upgrades), by the
// standard headers browsers send: Origin, else Sec-Fetch-Site, else Referer. Clients that send none of them
// are not browsers, and a cross-site page cannot make a browser omit them.
import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { APP_CONFIG, AppConfig } from '@nso/config';
import type { IncomingMessage } from 'node:http';

/** Express's compiled "trust proxy" setting: is the peer at `hop` (0 = the socket's peer) a trusted proxy? */
export type TrustProxyFn = (address: string | undefined, hop: number) => boolean;

/**
 * The scheme a request arrived with, decided exactly as Express's `req.protocol` does: TLS on the socket, or
 * the first `X-Forwarded-Proto` value when the socket's peer is a trusted proxy (TRUST_PROXY), else plain.
 */
export function requestProtocol(request: IncomingMessage, trust: TrustProxyFn): string {
  const own = (request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (!trust(request.socket.remoteAddress, 0)) return own;
  const forwarded = headerValue(request, 'x-forwarded-proto');
  return forwarded ? forwarded.split(',')[0].trim().toLowerCase() : own;
}

/** The origins a browser page of this gateway has: PUBLIC_ORIGINS when set, else scheme://Host of the request. */
export function ownOrigins(request: IncomingMessage, publicOrigins: string[], trust: TrustProxyFn): string[] {
  if (publicOrigins.length > 0) return publicOrigins;
  const host = request.headers.host;
  return host ? [`${requestProtocol(request, trust)}://${host}`.toLowerCase()] : [];
}

/**
 * True when the browser headers say the request comes from a page outside `allowedOrigins`, read in this order:
 * `Origin` (a POST or fetch always has it) must be allowed; else `Sec-Fetch-Site` (every current browser sends
 * it, and a page's Referrer-Policy cannot remove it): `cross-site` is refused, `same-origin` and `none` (the user
 * typed the URL or used a bookmark) pass, `same-site` (a sibling origin) falls through to the Referer; else
 * `Referer` must be allowed. A request with none of them is not from a browser.
 */
export function isCrossSite(request: IncomingMessage, allowedOrigins: string[]): boolean {
  const allowed = new Set(allowedOrigins.map((o) => o.toLowerCase()));
  const origin = headerValue(request, 'origin');
  if (origin !== undefined) return origin === 'null' || !allowed.has(origin.toLowerCase());
  const fetchSite = headerValue(request, 'sec-fetch-site')?.toLowerCase();
  if (fetchSite === 'cross-site') return true;
  if (fetchSite === 'same-origin' || fetchSite === 'none') return false;
  const referer = headerValue(request, 'referer');
  if (referer !== undefined) {
    try {
      return !allowed.has(new URL(referer).origin.toLowerCase());
    } catch {
      return true;
    }
  }
  // same-site without a Referer: a sibling origin the list may not hold; refused. Any other value is unknown.
  return fetchSite !== undefined;
}

/**
 * The one "same origin" decision of the gateway, used by the HTTP guard and the WebSocket handshake alike. It
 * reads the proxy trust Express compiled from TRUST_PROXY, so both transports trust the same peers.
 */
@Injectable()
export class SameOriginPolicy {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** True when a request authenticated by the session cookie comes from another site (refuse it). */
  isCrossSite(request: IncomingMessage): boolean {
    return isCrossSite(request, ownOrigins(request, this.config.publicOrigins, this.trust()));
  }

  private trust(): TrustProxyFn {
    const express = this.adapterHost.httpAdapter?.getInstance() as
      { get?(name: string): unknown } | undefined;
    const compiled = express?.get?.('trust proxy fn');
    return typeof compiled === 'function' ? (compiled as TrustProxyFn) : () => false;
  }
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
