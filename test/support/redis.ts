import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { deleteKeys } from './global-teardown';

export const testRedisUrl = (): string => process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A Redis prefix of its own for one test file or case, under this run's name so teardown removes it. */
export function testRedisPrefix(tag: string): string {
  const run = process.env.NSO_TEST_RUN ?? `nsotest-${process.pid}`;
  return `${run}-${tag}-${randomBytes(3).toString('hex')}`;
}

export async function clearRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(testRedisUrl());
  try {
    await deleteKeys(redis, `${prefix}*`);
  } finally {
    redis.disconnect();
  }
}
