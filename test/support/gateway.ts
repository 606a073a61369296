// Boots the gateway in this process on a loopback port, on a database and Redis prefix of its own.
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig, loadConfig } from '@nso/config';
import { AppModule } from '../../apps/gateway/src/app.module';
import { configureApp } from '../../apps/gateway/src/configure-app';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { TokensService } from '../../apps/gateway/src/tokens/tokens.service';
import { UsersService } from '../../apps/gateway/src/users/users.service';
import { DatabaseKind, testDatabaseParams } from './database';
import { keepPoolOnline } from './pools';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from './redis';

export interface TestUser {
  id: number;
  token: string;
  /** The Authorization header of this user's API token. */
  auth: { Authorization: string };
}

export interface TestGateway {
  app: INestApplication;
  url: string;
  config: AppConfig;
  /** The admin created from ADMIN_USERNAME / ADMIN_PASSWORD, with an API token. */
  admin: TestUser;
  /** A supertest agent that sends the admin's token (or another user's). */
  api(user?: TestUser): TestAgent;
  /** A further user (role `user`) with an API token of their own. */
  newUser(username: string): Promise<TestUser>;
  close(): Promise<void>;
}

export const TEST_ADMIN = { username: 'admin', password: 'Test-Admin-Pass-1' };

export async function startGateway(
  options: {
    database?: DatabaseKind;
    env?: Record<string, string>;
    /**
     * Register the single-machine `local` worker pool (approved, covering the scope) and keep it online, as a
     * worker process would: runs are delegated to it and wait on its queue even before a worker runs. On by
     * default; off where a test counts or manages clients itself.
     */
    localPool?: boolean;
  } = {},
): Promise<TestGateway> {
  const database = await testDatabaseParams(options.database ?? 'sqlite');
  const redisPrefix = testRedisPrefix('gw');
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: redisPrefix,
    DATABASE_URL: database.databaseUrl,
    DATABASE_SCHEMA: database.schema,
    LOG_LEVEL: 'error',
    ADMIN_USERNAME: TEST_ADMIN.username,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    ...options.env,
  });
  let app: INestApplication | undefined;
  try {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    app = moduleRef.createNestApplication({ bodyParser: false, logger: ['error'] });
    configureApp(app);
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app?.close().catch(() => undefined);
    await database.cleanup();
    throw error;
  }
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const started = app;
  const users = app.get(UsersService);
  const tokens = app.get(TokensService);
  const withToken = async (id: number): Promise<TestUser> => {
    const { token } = await tokens.create(id, 'tests');
    return { id, token, auth: { Authorization: `Bearer ${token}` } };
  };
  const pool =
    options.localPool === false ? undefined : await keepPoolOnline(app, 'local', config.workerScanRange);
  const adminUser = await users.findByUsername(config.adminUsername);
  const admin = adminUser ? await withToken(adminUser.id) : { id: 0, token: '', auth: { Authorization: '' } };
  return {
    app: started,
    url,
    config,
    admin,
    api: (user = admin) => request.agent(url).set(user.auth),
    newUser: async (username) => {
      const user = await users.create({ username, email: null, password: 'Test-User-Pass-1', role: 'user' });
      return withToken(user.id);
    },
    close: async () => {
      pool?.stop();
      await started.close();
      await database.cleanup();
      await clearRedisPrefix(redisPrefix);
    },
  };
}
