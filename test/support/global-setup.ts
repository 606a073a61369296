// Runs once before the integration tests: names this run (its Redis keys and PostgreSQL schemas start with it)
// and checks that the real services the tests need are there.
import { execFileSync } from 'node:child_process';
import Redis from 'ioredis';

export default async function globalSetup(): Promise<void> {
  process.env.NSO_TEST_RUN ??= `nsotest-${Date.now().toString(36)}-${process.pid}`;
  process.env.TEST_REDIS_URL ??= 'redis://127.0.0.1:6379';
  const redis = new Redis(process.env.TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(
      `Integration tests need Redis at ${process.env.TEST_REDIS_URL}: ${(error as Error).message}`,
    );
  } finally {
    redis.disconnect();
  }
  try {
    execFileSync(process.env.NMAP_PATH ?? 'nmap', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('Integration tests need nmap on PATH (apt-get install -y nmap, or run `npm test`)');
  }
}
