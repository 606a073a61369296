// One gateway as a real process from dist/ (not in the test's own process): for tests that must survive a
// gateway crash to see it, or that read the gateway's log output.
import request from 'supertest';
import { DatabaseKind, testDatabaseParams } from './database';
import { TEST_ADMIN } from './gateway';
import { AppProcess, freePort, startProcess } from './processes';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from './redis';

export interface GatewayProcess {
  process: AppProcess;
  url: string;
  port: number;
  /** The admin's API token, as an Authorization header. */
  auth: { Authorization: string };
  /** The admin's session cookie, with the Origin header a same-origin browser sends along. */
  session: { Cookie: string; Origin: string };
  /** True while the process runs and GET /api/health answers 200. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

export async function startGatewayProcess(
  options: { database?: DatabaseKind; env?: Record<string, string> } = {},
): Promise<GatewayProcess> {
  const database = await testDatabaseParams(options.database ?? 'sqlite');
  const prefix = testRedisPrefix('gwp');
  const port = await freePort();
  const gateway = startProcess('gateway', {
    PORT: String(port),
    HOST: '127.0.0.1',
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    DATABASE_URL: database.databaseUrl,
    ...(database.schema ? { DATABASE_SCHEMA: database.schema } : {}),
    ADMIN_USERNAME: TEST_ADMIN.username,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    ...options.env,
  });
  const close = async () => {
    // A gateway that does not finish its shutdown within 10 s is killed, so a hung one cannot hang the tests.
    const kill = setTimeout(() => void gateway.stop('SIGKILL'), 10_000);
    await gateway.stop('SIGTERM');
    clearTimeout(kill);
    await database.cleanup();
    await clearRedisPrefix(prefix);
  };
  try {
    await gateway.waitForOutput(/API listening on/);
    const url = `http://127.0.0.1:${port}`;
    const login = await request(url).post('/auth/login').send(TEST_ADMIN).expect(200);
    const session = { Cookie: String(login.headers['set-cookie'][0]).split(';')[0], Origin: url };
    const token = await request(url).post('/api/tokens').set(session).send({ name: 'tests' }).expect(201);
    return {
      process: gateway,
      url,
      port,
      auth: { Authorization: `Bearer ${token.body.token}` },
      session,
      healthy: async () => {
        if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) return false;
        const response = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5_000) }).catch(
          () => undefined,
        );
        return response?.status === 200;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
