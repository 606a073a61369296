// A request path that is not valid percent-encoded UTF-8 (`/api/scans/%E0%A4%A`): Express's router would refuse
// it while matching routes, before any middleware ran, so the answer would skip the rate limiter (uncounted, no
// X-RateLimit-* headers). Such a request is routed to a path of its own instead, goes through the same
// middleware as every request (identity, rate limit), and is answered 400 there.
import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** Where an undecodable request is routed (req.url only; req.originalUrl keeps what was sent). */
export const UNDECODABLE_PATH = '/api/.undecodable-path';

const FLAG = Symbol('undecodablePath');

/** True when every percent escape of the path decodes (as UTF-8). */
export function isDecodablePath(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/** Express middleware for the front of the chain (configureApp): reroutes an undecodable path. */
export function rerouteUndecodablePath(req: Request, _res: Response, next: NextFunction): void {
  const path = req.url.split('?', 1)[0];
  if (!isDecodablePath(path)) {
    (req as Request & { [FLAG]?: boolean })[FLAG] = true;
    req.url = UNDECODABLE_PATH;
  }
  next();
}

/** Answers a rerouted request 400, after the rate limiter counted it (AppModule applies it after that). */
@Injectable()
export class UndecodablePathMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    if (!(req as Request & { [FLAG]?: boolean })[FLAG]) return next();
    res.status(400).json({ error: 'The request path is not valid percent-encoded UTF-8' });
  }
}
