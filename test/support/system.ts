// One helper to boot the system for a test: the gateway in this process, workers as real processes, all on one
// database and one Redis prefix of their own.
import { DatabaseKind } from './database';
import { startGateway, TestGateway } from './gateway';
import { AppProcess, startProcess } from './processes';
import { testRedisUrl } from './redis';

export interface TestSystem {
  gateway: TestGateway;
  workers: AppProcess[];
  /** Environment of the processes of this system (database, Redis prefix, timings). */
  env: Record<string, string>;
  startWorker(id: string, extra?: Record<string, string>): Promise<AppProcess>;
  close(): Promise<void>;
}

export async function startSystem(
  options: {
    database?: DatabaseKind;
    workers?: number;
    env?: Record<string, string>;
    /** See startGateway: the `local` pool registered before any worker runs (default true). */
    localPool?: boolean;
  } = {},
): Promise<TestSystem> {
  const gateway = await startGateway({
    database: options.database,
    env: options.env,
    localPool: options.localPool,
  });
  const env: Record<string, string> = {
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: gateway.config.redisPrefix,
    DATABASE_URL: gateway.config.databaseUrl,
    ...(gateway.config.databaseSchema ? { DATABASE_SCHEMA: gateway.config.databaseSchema } : {}),
    WORKER_CONCURRENCY: '2',
    WORKER_LOCK_MS: '2000',
    LOG_LEVEL: 'log',
    ...options.env,
  };
  const workers: AppProcess[] = [];
  const startWorker = async (id: string, extra: Record<string, string> = {}) => {
    const worker = startProcess('worker', { ...env, WORKER_ID: id, ...extra });
    workers.push(worker);
    await worker.waitForOutput(/worker \S+ ready/);
    return worker;
  };
  try {
    for (let i = 1; i <= (options.workers ?? 1); i++) await startWorker(`w${i}`);
  } catch (error) {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await gateway.close();
    throw error;
  }
  return {
    gateway,
    workers,
    env,
    startWorker,
    close: async () => {
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));
      await gateway.close();
    },
  };
}
