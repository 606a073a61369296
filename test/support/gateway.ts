// Boots the gateway in this process on a loopback port, on a database and Redis prefix of its own.
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig, loadConfig } from '@nso/config';
import { AppModule } from '../../apps/gateway/src/app.module';
import { configureApp } from '../../apps/gateway/src/configure-app';
import { DatabaseKind, testDatabaseParams } from './database';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from './redis';

export interface TestGateway {
  app: INestApplication;
  url: string;
  config: AppConfig;
  close(): Promise<void>;
}

export async function startGateway(
  options: { database?: DatabaseKind; env?: Record<string, string> } = {},
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
    ...options.env,
  });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
  const app = moduleRef.createNestApplication({ bodyParser: false, logger: ['error'] });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    url,
    config,
    close: async () => {
      await app.close();
      await database.cleanup();
      await clearRedisPrefix(redisPrefix);
    },
  };
}
