// Rate limits against real Redis: the counting services directly, then over HTTP on one gateway, then across
// two gateway processes that share one Redis prefix.
import { HttpException } from '@nestjs/common';
import { AppConfig, loadConfig } from '@nso/config';
import { redisKeys } from '@nso/contracts';
import Redis from 'ioredis';
import request from 'supertest';
import { Clock } from '../../apps/gateway/src/rate-limit/clock';
import { ATTEMPT_TTL_MS, LoginThrottle } from '../../apps/gateway/src/rate-limit/login-throttle.service';
import { RateLimitService } from '../../apps/gateway/src/rate-limit/rate-limit.service';
import { testDatabaseParams } from '../support/database';
import { startGateway, TestGateway } from '../support/gateway';
import { AppProcess, freePort, startProcess } from '../support/processes';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from '../support/redis';

class MovableClock extends Clock {
  constructor(public ms = Date.now()) {
    super();
  }
  override now(): number {
    return this.ms;
  }
}

/** The status and body a refused login would be answered with, or undefined if it was allowed. */
async function refusal(attempt: Promise<void>): Promise<{ status: number; body: unknown } | undefined> {
  try {
    await attempt;
    return undefined;
  } catch (error) {
    if (!(error instanceof HttpException)) throw error;
    return { status: error.getStatus(), body: error.getResponse() };
  }
}

const RATE_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

describe('rate limiting in Redis', () => {
  const connections: Redis[] = [];
  const prefixes: string[] = [];
  let prefix: string;
  let clock: MovableClock;
  /** A new connection each time, as each gateway replica has its own. */
  const connect = () => {
    const redis = new Redis(testRedisUrl());
    connections.push(redis);
    return redis;
  };

  beforeEach(() => {
    prefix = testRedisPrefix('rl');
    prefixes.push(prefix);
    clock = new MovableClock(Date.parse('2026-01-15T10:30:00Z'));
  });

  afterAll(async () => {
    await Promise.all(connections.map((redis) => redis.quit()));
    for (const used of prefixes) await clearRedisPrefix(used);
  });

  describe('RateLimitService', () => {
    const service = () => new RateLimitService(connect(), redisKeys(prefix), clock);

    it('allows the limit, then refuses, counting down what is left', async () => {
      const limiter = service();
      const decisions = [];
      for (let i = 0; i < 5; i++) decisions.push(await limiter.consume('ip:203.0.113.7', 3, 3600));
      expect(decisions.map((d) => [d.allowed, d.remaining])).toEqual([
        [true, 2],
        [true, 1],
        [true, 0],
        [false, 0],
        [false, 0],
      ]);
      const resetAt = Date.parse('2026-01-15T11:00:00Z') / 1000;
      expect(decisions.every((d) => d.limit === 3 && d.resetAt === resetAt)).toBe(true);
    });

    it('keeps buckets apart', async () => {
      const limiter = service();
      expect((await limiter.consume('ip:203.0.113.7', 1, 60)).allowed).toBe(true);
      expect((await limiter.consume('ip:203.0.113.7', 1, 60)).allowed).toBe(false);
      expect((await limiter.consume('ip:203.0.113.8', 1, 60)).allowed).toBe(true);
      expect((await limiter.consume('user:7', 1, 60)).allowed).toBe(true);
    });

    it('starts counting again in the next window, and lets the old counter expire', async () => {
      const limiter = service();
      const first = await limiter.consume('user:7', 1, 60);
      expect((await limiter.consume('user:7', 1, 60)).allowed).toBe(false);
      clock.ms = first.resetAt * 1000;
      const next = await limiter.consume('user:7', 1, 60);
      expect(next).toEqual({ allowed: true, limit: 1, remaining: 0, resetAt: first.resetAt + 60 });
      const redis = connect();
      const counters = await redis.keys(`${prefix}:rl:user:7:*`);
      expect(counters).toHaveLength(2);
      for (const key of counters) expect(await redis.ttl(key)).toBeGreaterThan(0);
    });

    it('never over-admits 50 concurrent requests from two replicas', async () => {
      const [a, b] = [service(), service()];
      const decisions = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).consume('ip:198.51.100.1', 10, 3600)),
      );
      const allowed = decisions.filter((d) => d.allowed);
      expect(allowed).toHaveLength(10);
      expect(allowed.map((d) => d.remaining).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  });

  describe('LoginThrottle', () => {
    const throttle = (env: Record<string, string> = {}) => {
      const config: AppConfig = loadConfig(env);
      return new LoginThrottle(connect(), redisKeys(prefix), config, clock);
    };
    const fail = async (t: LoginThrottle, username: string, ip: string, times = 1) => {
      for (let i = 0; i < times; i++) {
        await t.assertAllowed(username, ip);
        await t.recordFailure(username, ip);
      }
    };

    it('locks an account after 5 failures, whatever the case of the username and the address', async () => {
      const t = throttle();
      await fail(t, 'Alice', '203.0.113.7', 4);
      await fail(t, 'alice', '198.51.100.1');
      expect(await refusal(t.assertAllowed('ALICE', '192.0.2.99'))).toEqual({
        status: 429,
        body: { error: 'Too many failed logins; try again in 900 seconds', retry_after: 900 },
      });
      expect(await refusal(t.assertAllowed('bob', '203.0.113.7'))).toBeUndefined();
    });

    it('unlocks as the oldest failure leaves the window', async () => {
      const t = throttle();
      const start = clock.ms;
      for (let i = 0; i < 5; i++) {
        await fail(t, 'carol', '203.0.113.7');
        clock.ms += 60_000;
      }
      clock.ms = start + 900_000 - 1_000;
      expect(await refusal(t.assertAllowed('carol', '203.0.113.7'))).toMatchObject({
        body: { retry_after: 1 },
      });
      clock.ms = start + 900_000;
      expect(await refusal(t.assertAllowed('carol', '203.0.113.7'))).toBeUndefined();
    });

    it('clears the account on success but keeps counting the address', async () => {
      const t = throttle({ LOGIN_FAILURES_PER_IP: '6' });
      await fail(t, 'dave', '203.0.113.7', 4);
      await t.assertAllowed('dave', '203.0.113.7');
      await t.recordSuccess('dave', '203.0.113.7');
      await fail(t, 'dave', '198.51.100.1', 4);
      expect(await refusal(t.assertAllowed('dave', '198.51.100.1'))).toBeUndefined();
      await fail(t, 'erin', '203.0.113.7', 2);
      expect(await refusal(t.assertAllowed('frank', '203.0.113.7'))).toMatchObject({ status: 429 });
    });

    it('limits one address guessing across many usernames', async () => {
      const t = throttle();
      for (let i = 0; i < 20; i++) await fail(t, `user${i}`, '2001:db8:1:2::10');
      const refused = await refusal(t.assertAllowed('someone-else', '2001:db8:1:2::99'));
      expect(refused).toMatchObject({ status: 429, body: { retry_after: 900 } });
      expect(await refusal(t.assertAllowed('someone-else', '2001:db8:1:3::10'))).toBeUndefined();
    });

    it('lets no more guesses through than the limit when 50 arrive at once', async () => {
      const t = throttle();
      const passwordChecked: number[] = [];
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          if (await refusal(t.assertAllowed('grace', `198.51.100.${i}`))) return;
          passwordChecked.push(i);
          await new Promise((resolve) => setTimeout(resolve, 20));
          await t.recordFailure('grace', `198.51.100.${i}`);
        }),
      );
      expect(passwordChecked).toHaveLength(5);
      expect(await refusal(t.assertAllowed('grace', '192.0.2.1'))).toMatchObject({ status: 429 });
    });

    it('stops counting an attempt that never reported back', async () => {
      const t = throttle({ LOGIN_FAILURES_PER_ACCOUNT: '1' });
      await t.assertAllowed('heidi', '203.0.113.7');
      expect(await refusal(t.assertAllowed('heidi', '203.0.113.7'))).toMatchObject({
        body: { retry_after: ATTEMPT_TTL_MS / 1000 },
      });
      clock.ms += ATTEMPT_TTL_MS;
      expect(await refusal(t.assertAllowed('heidi', '203.0.113.7'))).toBeUndefined();
    });

    it('forgets at once an attempt released without a verdict, and counts no failure for it', async () => {
      const t = throttle({ LOGIN_FAILURES_PER_ACCOUNT: '1', LOGIN_FAILURES_PER_IP: '1' });
      for (let i = 0; i < 20; i++) {
        await t.assertAllowed('ivan', '203.0.113.8');
        await t.release('ivan', '203.0.113.8');
      }
      expect(await refusal(t.assertAllowed('ivan', '203.0.113.8'))).toBeUndefined();
    });
  });
});

describe('rate limits over HTTP', () => {
  let gateway: TestGateway | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  it('reports the allowance on every answer and refuses the 6th request with 429', async () => {
    gateway = await startGateway({ env: { RATE_LIMIT_ANONYMOUS: '5' } });
    const started = Date.now() / 1000;
    for (let remaining = 4; remaining >= 0; remaining--) {
      const response = await request(gateway.url).get('/api/no-such-route').expect(404);
      expect(response.headers['x-ratelimit-limit']).toBe('5');
      expect(response.headers['x-ratelimit-remaining']).toBe(String(remaining));
      const reset = Number(response.headers['x-ratelimit-reset']);
      expect(reset).toBeGreaterThan(started);
      expect(reset).toBeLessThanOrEqual(started + 3600 + 1);
    }
    const refused = await request(gateway.url).get('/api/no-such-route').expect(429);
    expect(refused.body).toEqual({ error: 'Rate limit exceeded', retry_after: expect.any(Number) });
    expect(refused.headers['retry-after']).toBe(String(refused.body.retry_after));
    expect(refused.body.retry_after).toBeGreaterThanOrEqual(1);
    expect(refused.body.retry_after).toBeLessThanOrEqual(3600);
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');

    // Health probes are never counted, so a load balancer keeps seeing a healthy gateway.
    const health = await request(gateway.url).get('/api/health').expect(200);
    for (const header of RATE_HEADERS) expect(health.headers[header]).toBeUndefined();
  });

  it('counts requests whose body is refused before any route runs', async () => {
    gateway = await startGateway({ env: { RATE_LIMIT_ANONYMOUS: '5' } });
    const login = () => request(gateway!.url).post('/auth/login').set('Content-Type', 'application/json');
    const answers = [
      await login().send('{"username":'),
      await login().send(`{"username":"${'x'.repeat(1_100_000)}"}`),
      await login().set('Content-Encoding', 'gzip').send('{"username":"admin"}'),
      await login().set('Content-Encoding', 'compress').send('{}'),
      await login().send(`{"username":${'['.repeat(10_000)}${']'.repeat(10_000)}}`),
      await login().send({ username: 'admin', password: 'x' }),
    ];
    expect(answers.map((a) => [a.status, a.headers['x-ratelimit-remaining'], a.body.error])).toEqual([
      [400, '4', 'Malformed JSON body'],
      [413, '3', 'Request body too large'],
      [400, '2', 'Request body does not match its Content-Encoding'],
      [415, '1', 'Unsupported Content-Encoding (use gzip, deflate, br or none)'],
      [400, '0', 'Request body nested too deeply (at most 32 levels)'],
      [429, '0', 'Rate limit exceeded'],
    ]);
  });

  it('counts an undecodable path like any other request: a 400 with the X-RateLimit-* headers', async () => {
    gateway = await startGateway({ env: { RATE_LIMIT_ANONYMOUS: '3' } });
    const answers = [];
    for (const path of [
      '/api/scans/%E0%A4%A',
      '/api/clients/%E0%A4%A/heartbeat',
      '/api/scans/%E0%A4%A',
      '/api/scans/%E0%A4%A',
    ]) {
      answers.push(await request(gateway.url).get(path));
    }
    expect(
      answers.map((a) => [
        a.status,
        a.headers['x-ratelimit-limit'],
        a.headers['x-ratelimit-remaining'],
        a.body.error,
      ]),
    ).toEqual([
      [400, '3', '2', 'The request path is not valid percent-encoded UTF-8'],
      [400, '3', '1', 'The request path is not valid percent-encoded UTF-8'],
      [400, '3', '0', 'The request path is not valid percent-encoded UTF-8'],
      [429, '3', '0', 'Rate limit exceeded'],
    ]);
  });

  it('counts an authenticated user apart from the address, at the authenticated limit', async () => {
    gateway = await startGateway({ env: { RATE_LIMIT_ANONYMOUS: '2', RATE_LIMIT_AUTHENTICATED: '3' } });
    const asAdmin = () => gateway!.api().get('/api/no-such-route');
    const anonymous = () => request(gateway!.url).get('/api/no-such-route');
    const seen = [];
    for (const send of [asAdmin, anonymous, asAdmin, asAdmin, asAdmin, anonymous, anonymous]) {
      const response = await send();
      seen.push([
        response.status,
        response.headers['x-ratelimit-limit'],
        response.headers['x-ratelimit-remaining'],
      ]);
    }
    expect(seen).toEqual([
      [404, '3', '2'],
      [404, '2', '1'],
      [404, '3', '1'],
      [404, '3', '0'],
      [429, '3', '0'],
      [404, '2', '0'],
      [429, '2', '0'],
    ]);
  });

  it('counts clients behind a trusted proxy by X-Forwarded-For, and ignores it from anyone else', async () => {
    const fromClient = (address: string) =>
      request(gateway!.url).get('/api/no-such-route').set('X-Forwarded-For', address);
    gateway = await startGateway({ env: { RATE_LIMIT_ANONYMOUS: '1', TRUST_PROXY: 'loopback' } });
    await fromClient('203.0.113.1').expect(404);
    await fromClient('203.0.113.1').expect(429);
    await fromClient('203.0.113.2').expect(404);
    await gateway.close();
    gateway = undefined;

    gateway = await startGateway({ env: { RATE_LIMIT_ANONYMOUS: '1' } });
    await fromClient('203.0.113.1').expect(404);
    await fromClient('203.0.113.2').expect(429);
  });

  it('neither counts nor adds headers when RATE_LIMIT_ENABLED=false', async () => {
    gateway = await startGateway({ env: { RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_ANONYMOUS: '1' } });
    for (let i = 0; i < 3; i++) {
      const response = await request(gateway.url).get('/api/no-such-route').expect(404);
      for (const header of RATE_HEADERS) expect(response.headers[header]).toBeUndefined();
    }
  });
});

describe('rate limits across two gateway processes', () => {
  const processes: AppProcess[] = [];
  let urls: string[];
  let cleanup: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const database = await testDatabaseParams('postgresql');
    const prefix = testRedisPrefix('rl-multi');
    cleanup = async () => {
      await database.cleanup();
      await clearRedisPrefix(prefix);
    };
    const env = {
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DATABASE_URL: database.databaseUrl,
      DATABASE_SCHEMA: database.schema,
      RATE_LIMIT_ANONYMOUS: '6',
    };
    const ports = [await freePort(), await freePort()];
    for (const port of ports) processes.push(startProcess('gateway', { ...env, PORT: String(port) }));
    await Promise.all(processes.map((p) => p.waitForOutput(/API listening on/)));
    urls = ports.map((port) => `http://127.0.0.1:${port}`);
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGTERM')));
    await cleanup?.();
  });

  it('holds one limit for a client whichever replica answers', async () => {
    const answers: { status: number; remaining?: string }[] = [];
    for (let i = 0; i < 8; i++) {
      const response = await request(urls[i % 2]).get('/api/no-such-route');
      answers.push({ status: response.status, remaining: response.headers['x-ratelimit-remaining'] });
    }
    expect(answers).toEqual([
      { status: 404, remaining: '5' },
      { status: 404, remaining: '4' },
      { status: 404, remaining: '3' },
      { status: 404, remaining: '2' },
      { status: 404, remaining: '1' },
      { status: 404, remaining: '0' },
      { status: 429, remaining: '0' },
      { status: 429, remaining: '0' },
    ]);
  });
});
