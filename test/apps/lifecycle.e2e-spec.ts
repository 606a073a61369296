import Redis from 'ioredis';
import { redisKeys } from '@nso/contracts';
import { testDatabaseParams } from '../support/database';
import { freePort, startProcess } from '../support/processes';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from '../support/redis';

// Worker and delta are processes without HTTP: they report health through a Redis heartbeat and leave cleanly.
describe.each(['worker', 'delta'] as const)('the %s process', (kind) => {
  it('starts, reports healthy, and shuts down cleanly on SIGTERM', async () => {
    const database = await testDatabaseParams('sqlite');
    const prefix = testRedisPrefix(kind);
    const redis = new Redis(testRedisUrl());
    try {
      const child = startProcess(kind, {
        REDIS_URL: testRedisUrl(),
        REDIS_PREFIX: prefix,
        DATABASE_URL: database.databaseUrl,
        WORKER_ID: `${kind}-life`,
      });
      await child.waitForOutput(kind === 'worker' ? /worker worker-life ready/ : /delta service ready/);
      const key = redisKeys(prefix).processHeartbeat(kind, `${kind}-life`);
      expect(JSON.parse((await redis.get(key))!)).toMatchObject({ pid: child.child.pid });
      expect(await redis.ttl(key)).toBeGreaterThan(0);

      expect(await child.stop('SIGTERM')).toBe(0);
      expect(await redis.exists(key)).toBe(0);
    } finally {
      redis.disconnect();
      await clearRedisPrefix(prefix);
      await database.cleanup();
    }
  });
});

// LOG_LEVEL is a threshold (docs/configuration.md): `debug` adds debug lines to what `log` shows, it hides none.
describe.each(['gateway', 'worker', 'delta'] as const)('the %s with LOG_LEVEL=debug', (kind) => {
  it('still logs what LOG_LEVEL=log does, such as that it is ready, as plain text on a pipe', async () => {
    const database = await testDatabaseParams('sqlite');
    const prefix = testRedisPrefix(`${kind}-debug`);
    const child = startProcess(kind, {
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DATABASE_URL: database.databaseUrl,
      PORT: String(await freePort()),
      WORKER_ID: `${kind}-debug`,
      LOG_LEVEL: 'debug',
    });
    try {
      const ready = { gateway: /API listening on/, worker: /worker \S+ ready/, delta: /delta service ready/ }[
        kind
      ];
      await child.waitForOutput(ready, 15_000);
      expect(await child.stop('SIGTERM')).toBe(0);
      // Written to a pipe (a container log, a file), not a terminal: plain text without colour escapes.
      expect(child.output()).not.toContain('\x1b[');
    } finally {
      await child.stop('SIGKILL');
      await clearRedisPrefix(prefix);
      await database.cleanup();
    }
  });
});

describe('configuration errors', () => {
  it.each(['gateway', 'worker', 'delta'] as const)(
    'stop the %s with a message naming the variable',
    async (kind) => {
      const child = startProcess(kind, {
        PORT: 'http',
        SCAN_SCOPE_ALLOW: '127.0.0.0/33',
        REDIS_URL: 'localhost',
      });
      expect(await child.exited).toBe(78);
      expect(child.output()).toContain('PORT="http" must be an integer from 0 to 65535');
      expect(child.output()).toContain(
        'SCAN_SCOPE_ALLOW holds "127.0.0.0/33", which is not an IP address or network CIDR',
      );
      expect(child.output()).toContain('REDIS_URL="localhost" is malformed');
    },
  );
});
