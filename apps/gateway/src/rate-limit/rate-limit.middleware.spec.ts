import { Logger } from '@nestjs/common';
import { loadConfig } from '@nso/config';
import type { NextFunction, Request, Response } from 'express';
import { Clock } from './clock';
import { REDIS_DEADLINE_MS, RateLimitMiddleware } from './rate-limit.middleware';
import { RateLimitDecision, RateLimitService } from './rate-limit.service';

class FakeClock extends Clock {
  constructor(public ms = Date.parse('2026-01-15T10:30:00Z')) {
    super();
  }
  override now(): number {
    return this.ms;
  }
}

/** Stands in for Redis: answers with what the test sets and remembers what it was asked. */
class FakeLimiter {
  calls: { bucket: string; limit: number; windowSeconds: number }[] = [];
  answer: () => Promise<RateLimitDecision> = () =>
    Promise.resolve({ allowed: true, limit: 100, remaining: 99, resetAt: 1_768_476_600 });

  consume(bucket: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    this.calls.push({ bucket, limit, windowSeconds });
    return this.answer();
  }
}

interface Exchange {
  headers: Record<string, string>;
  status?: number;
  body?: unknown;
  nextCalls: unknown[][];
}

function setup(env: Record<string, string> = {}) {
  const clock = new FakeClock();
  const limiter = new FakeLimiter();
  const config = loadConfig({ RATE_LIMIT_ANONYMOUS: '100', RATE_LIMIT_AUTHENTICATED: '1000', ...env });
  const middleware = new RateLimitMiddleware(limiter as unknown as RateLimitService, config, clock);

  /** Runs one request through the middleware; resolves once it answered or passed the request on. */
  const send = (req: Partial<Request>) =>
    new Promise<Exchange>((resolve) => {
      const exchange: Exchange = { headers: {}, nextCalls: [] };
      const res = {
        setHeader: (name: string, value: string) => (exchange.headers[name] = value),
        status: (code: number) => {
          exchange.status = code;
          return res;
        },
        json: (body: unknown) => {
          exchange.body = body;
          resolve(exchange);
        },
      };
      const next: NextFunction = (...args: unknown[]) => {
        exchange.nextCalls.push(args);
        resolve(exchange);
      };
      middleware.use(
        { originalUrl: '/api/scans', ip: '203.0.113.7', ...req } as Request,
        res as unknown as Response,
        next,
      );
    });
  return { clock, limiter, send };
}

describe('RateLimitMiddleware', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => (warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined)));
  afterEach(() => jest.restoreAllMocks());

  it('counts an anonymous request by client address and reports the allowance in headers', async () => {
    const { limiter, send } = setup();
    const exchange = await send({ ip: '::ffff:203.0.113.7' });
    expect(limiter.calls).toEqual([{ bucket: 'ip:203.0.113.7', limit: 100, windowSeconds: 3600 }]);
    expect(exchange.headers).toEqual({
      'X-RateLimit-Limit': '100',
      'X-RateLimit-Remaining': '99',
      'X-RateLimit-Reset': '1768476600',
    });
    expect(exchange.nextCalls).toEqual([[]]);
  });

  it('counts an authenticated request by user, at the authenticated limit', async () => {
    const { limiter, send } = setup();
    await send({ user: { id: 7, username: 'alice', role: 'user' } } as Partial<Request>);
    expect(limiter.calls).toEqual([{ bucket: 'user:7', limit: 1000, windowSeconds: 3600 }]);
  });

  it('answers 429 with Retry-After and the JSON body past the limit, and does not pass the request on', async () => {
    const { clock, limiter, send } = setup();
    const resetAt = clock.ms / 1000 + 1800;
    clock.ms += 500;
    limiter.answer = () => Promise.resolve({ allowed: false, limit: 100, remaining: 0, resetAt });
    const exchange = await send({});
    expect(exchange.status).toBe(429);
    expect(exchange.headers).toMatchObject({ 'X-RateLimit-Remaining': '0', 'Retry-After': '1800' });
    expect(exchange.body).toEqual({ error: 'Rate limit exceeded', retry_after: 1800 });
    expect(exchange.nextCalls).toEqual([]);
  });

  it('neither counts nor adds headers when rate limiting is off', async () => {
    const { limiter, send } = setup({ RATE_LIMIT_ENABLED: 'false' });
    const exchange = await send({});
    expect(limiter.calls).toEqual([]);
    expect(exchange.headers).toEqual({});
    expect(exchange.nextCalls).toEqual([[]]);
  });

  it('never counts health probes', async () => {
    const { limiter, send } = setup();
    for (const originalUrl of ['/api/health', '/api/health/', '/api/health?verbose=1']) {
      const exchange = await send({ originalUrl });
      expect(exchange.headers).toEqual({});
      expect(exchange.nextCalls).toEqual([[]]);
    }
    expect(limiter.calls).toEqual([]);
  });

  it('lets requests through without headers when Redis fails, warning at most once a minute', async () => {
    const { clock, limiter, send } = setup();
    limiter.answer = () => Promise.reject(new Error('Connection is closed.'));
    for (let i = 0; i < 3; i++) {
      const exchange = await send({});
      expect(exchange.headers).toEqual({});
      expect(exchange.nextCalls).toEqual([[]]);
      clock.ms += 10_000;
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toContain('Connection is closed.');
    clock.ms += 60_000;
    await send({});
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('lets a request through when Redis does not answer in time', async () => {
    jest.useFakeTimers();
    try {
      const { limiter, send } = setup();
      limiter.answer = () => new Promise(() => undefined);
      const answered = send({});
      await jest.advanceTimersByTimeAsync(REDIS_DEADLINE_MS);
      const exchange = await answered;
      expect(exchange.headers).toEqual({});
      expect(exchange.nextCalls).toEqual([[]]);
      expect(warn.mock.calls[0][0]).toContain(`no answer within ${REDIS_DEADLINE_MS} ms`);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('RateLimitMiddleware on an agent route', () => {
  it('counts an anonymous heartbeat by its client id and by the agents of its network, not the address budget', async () => {
    const { limiter, send } = setup({ RATE_LIMIT_CLIENT: '300', RATE_LIMIT_CLIENT_NETWORK: '6000' });
    const exchange = await send({ method: 'POST', originalUrl: '/api/clients/aa:bb:cc:dd:ee:ff/heartbeat' });
    expect(limiter.calls).toEqual([
      { bucket: 'client:aa:bb:cc:dd:ee:ff', limit: 300, windowSeconds: 3600 },
      { bucket: 'clients-net:203.0.113.7', limit: 6000, windowSeconds: 3600 },
    ]);
    expect(exchange.nextCalls).toEqual([[]]);
  });

  it('refuses when the network budget of agent routes is spent, with that budget in the headers', async () => {
    const { limiter, send } = setup();
    limiter.answer = () =>
      Promise.resolve(
        limiter.calls.length === 2
          ? { allowed: false, limit: 6000, remaining: 0, resetAt: 1_768_476_600 }
          : { allowed: true, limit: 300, remaining: 299, resetAt: 1_768_476_600 },
      );
    const exchange = await send({ method: 'PUT', originalUrl: '/api/clients/agent-1' });
    expect(exchange.status).toBe(429);
    expect(exchange.headers['X-RateLimit-Limit']).toBe('6000');
  });

  it('counts an admin on the same route as that user', async () => {
    const { limiter, send } = setup();
    await send({
      method: 'PUT',
      originalUrl: '/api/clients/agent-1',
      user: { id: 7, username: 'admin', role: 'admin' },
    });
    expect(limiter.calls.map((c) => c.bucket)).toEqual(['user:7']);
  });
});
