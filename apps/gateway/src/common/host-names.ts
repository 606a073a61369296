// DNS rebinding: a page of another site whose name its owner re-points at 127.0.0.1 reaches a loopback gateway as
// its own origin (Host and Origin both carry that name, so the same-origin check passes) and can read what it
// gets. A loopback gateway therefore answers only the names of this machine and those of PUBLIC_ORIGINS.
import type { AppConfig } from '@nso/config';
import { hostHeaderName, isLoopbackHost, namesThisMachine } from '@nso/config';
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage } from 'node:http';

/**
 * Whether a request's Host header names this gateway, or undefined when no name is refused. Names are checked
 * (port ignored, case-insensitive) only when the gateway listens on loopback (HOST 127.0.0.0/8, ::1, localhost),
 * where the one way in for a browser of another site is a rebound name: then `localhost`, `*.localhost`, any IP
 * address (a page whose origin is an address was served from that address, so no name was rebound) and the hosts of
 * PUBLIC_ORIGINS pass. A loopback gateway behind a proxy on the same
 * machine (TRUST_PROXY set) that passes on the public Host must list that origin in PUBLIC_ORIGINS to be checked;
 * without PUBLIC_ORIGINS it is not (its names are unknown). Beyond loopback (HOST 0.0.0.0 in a container) the
 * deployment's names are unknown too, and nothing is refused. A request without Host (not a browser) passes.
 */
export function servedHostCheck(
  config: Pick<AppConfig, 'host' | 'publicOrigins' | 'trustProxy'>,
): ((host: string | undefined) => boolean) | undefined {
  if (!isLoopbackHost(config.host)) return undefined;
  if (config.trustProxy !== false && config.publicOrigins.length === 0) return undefined;
  const listed = new Set(
    config.publicOrigins.flatMap((origin) => hostHeaderName(origin.replace(/^\w+:\/\//, '')) ?? []),
  );
  return (host) => {
    if (host === undefined) return true;
    const name = hostHeaderName(host);
    if (name === undefined) return false;
    return listed.has(name) || namesThisMachine(name);
  };
}

/** 421 Misdirected Request: the body of a refused Host. */
export function misdirectedBody(host: string | undefined): { error: string } {
  return {
    error: `Host ${JSON.stringify(host)} is not a name of this gateway; list its origin in PUBLIC_ORIGINS`,
  };
}

/** Express middleware answering 421 to a request whose Host servedHostCheck refuses (see there). */
export function refuseUnservedHosts(
  config: Pick<AppConfig, 'host' | 'publicOrigins' | 'trustProxy'>,
): (req: Request, res: Response, next: NextFunction) => void {
  const served = servedHostCheck(config);
  return (req, res, next) => {
    if (!served || served(req.headers.host)) return next();
    res.status(421).json(misdirectedBody(req.headers.host));
  };
}

/** Whether an upgrade request's Host is served (always, where servedHostCheck checks nothing). */
export function upgradeHostServed(
  check: ((host: string | undefined) => boolean) | undefined,
  request: IncomingMessage,
): boolean {
  return !check || check(request.headers.host);
}
