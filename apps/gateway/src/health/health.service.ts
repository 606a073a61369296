import { EntityManager } from '@mikro-orm/core';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import { BATCH_QUEUE } from '@nso/contracts';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from '@nso/events';
import { checkDatabase } from '@nso/persistence';
import { Queue } from 'bullmq';
import Redis from 'ioredis';

const CHECK_TIMEOUT_MS = 2000;

export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  timestamp: string;
  version: string;
  checks: { database: boolean; redis: boolean };
  stats: { active_clients: number; pending_tasks: number; running_tasks: number };
}

function withTimeout<T>(work: Promise<T>, fallback: T): Promise<T> {
  return Promise.race([
    work.catch(() => fallback),
    new Promise<T>((resolve) => setTimeout(resolve, CHECK_TIMEOUT_MS, fallback).unref()),
  ]);
}

@Injectable()
export class HealthService {
  constructor(
    private readonly em: EntityManager,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    @InjectQueue(BATCH_QUEUE) private readonly batches: Queue,
  ) {}

  async report(): Promise<HealthReport> {
    const [database, redis] = await Promise.all([
      withTimeout(checkDatabase(this.em.fork()), false),
      withTimeout(
        this.redis.ping().then((pong) => pong === 'PONG'),
        false,
      ),
    ]);
    const stats = redis ? await withTimeout(this.stats(), undefined) : undefined;
    return {
      status: database && redis ? 'healthy' : 'unhealthy',
      timestamp: new Date().toISOString(),
      version: process.env.npm_package_version ?? '0.1.0',
      checks: { database, redis },
      stats: stats ?? { active_clients: 0, pending_tasks: 0, running_tasks: 0 },
    };
  }

  private async stats(): Promise<HealthReport['stats']> {
    const [counts, workers] = await Promise.all([
      this.batches.getJobCounts('waiting', 'delayed', 'prioritized', 'waiting-children', 'active'),
      this.countKeys(this.keys.processHeartbeatPattern('worker')),
    ]);
    return {
      active_clients: workers,
      pending_tasks: counts.waiting + counts.delayed + counts.prioritized + counts['waiting-children'],
      running_tasks: counts.active,
    };
  }

  private async countKeys(pattern: string): Promise<number> {
    let cursor = '0';
    let count = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      count += keys.length;
    } while (cursor !== '0');
    return count;
  }
}
