// The request rate limit of the seed API: per authenticated user, else per client network, on every HTTP route;
// an agent's own anonymous routes are counted per client id, plus a wider budget per network (client-routes.ts).
//
// It fails open: when Redis errs or does not answer within REDIS_DEADLINE_MS the request goes through,
// uncounted and without X-RateLimit-* headers, and a warning is logged at most once a minute. A rate limiter
// exists to protect the API; it must not be the thing that takes it down (the routes that really need Redis
// answer for themselves).
import { Inject, Injectable, Logger, NestMiddleware } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import type { NextFunction, Request, Response } from 'express';
import { clientNetwork } from './client-network';
import { agentRouteClientId } from './client-routes';
import { Clock } from './clock';
import { secondsUntil } from './fixed-window';
import { RateLimitDecision, RateLimitService } from './rate-limit.service';

/** Longer than any healthy Redis round trip; short enough that a hung Redis does not stall every request. */
export const REDIS_DEADLINE_MS = 500;
const WARN_INTERVAL_MS = 60_000;

/**
 * Never counted: health probes of load balancers and orchestrators come from one address every few seconds
 * (a 10 s probe is 360 an hour) and a 429 would take a healthy gateway out of service.
 */
const UNMETERED_PATHS = new Set(['/api/health']);

@Injectable()
export class RateLimitMiddleware implements NestMiddleware {
  private readonly logger = new Logger('RateLimit');
  private lastWarningAt = -Infinity;

  constructor(
    private readonly limiter: RateLimitService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const limits = this.config.rateLimit;
    if (!limits.enabled || UNMETERED_PATHS.has(pathOf(req))) return next();
    const buckets = this.bucketsOf(req);
    withDeadline(
      Promise.all(
        buckets.map(([bucket, limit]) => this.limiter.consume(bucket, limit, limits.windowSeconds)),
      ),
      REDIS_DEADLINE_MS,
    )
      .then(
        // The first bucket is the one the headers describe, unless another one refused the request.
        (decisions) => this.answer(decisions.find((d) => !d.allowed) ?? decisions[0], res, next),
        (error: unknown) => {
          this.warnFailingOpen(error);
          next();
        },
      )
      .catch(next);
  }

  /**
   * `[bucket, limit]` pairs a request is counted in: its user; else, on an agent's route, its client id and
   * (so that inventing ids does not escape every limit) its network's agent budget; else its network.
   */
  private bucketsOf(req: Request): Array<[string, number]> {
    const limits = this.config.rateLimit;
    if (req.user) return [[`user:${req.user.id}`, limits.userPerWindow]];
    const network = clientNetwork(req.ip ?? 'unknown');
    const clientId = agentRouteClientId(req.method, pathOf(req));
    if (clientId === undefined) return [[`ip:${network}`, limits.anonymousPerWindow]];
    const clients = this.config.clients;
    return [
      [`client:${clientId}`, clients.perClientPerWindow],
      [`clients-net:${network}`, clients.perNetworkPerWindow],
    ];
  }

  private answer(decision: RateLimitDecision, res: Response, next: NextFunction): void {
    res.setHeader('X-RateLimit-Limit', String(decision.limit));
    res.setHeader('X-RateLimit-Remaining', String(decision.remaining));
    res.setHeader('X-RateLimit-Reset', String(decision.resetAt));
    if (decision.allowed) return next();
    const retryAfter = secondsUntil(decision.resetAt, this.clock.now());
    res.setHeader('Retry-After', String(retryAfter));
    res.status(429).json({ error: 'Rate limit exceeded', retry_after: retryAfter });
  }

  private warnFailingOpen(error: unknown): void {
    const now = this.clock.now();
    if (now - this.lastWarningAt < WARN_INTERVAL_MS) return;
    this.lastWarningAt = now;
    const reason = error instanceof Error ? error.message : String(error);
    this.logger.warn(`Redis did not count a request (${reason}); requests go through unlimited meanwhile`);
  }
}

function pathOf(req: Request): string {
  const path = req.originalUrl.split('?', 1)[0];
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
