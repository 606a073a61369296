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
  return {
    app: started,
    url,
    config,
    close: async () => {
      await started.close();
      await database.cleanup();
      await clearRedisPrefix(redisPrefix);
    },
  };
}
