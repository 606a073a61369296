import { EntityManager } from '@mikro-orm/core';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import { BATCH_QUEUE } from '@nso/contracts';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { REDIS_CLIENT } from '@nso/events';
import { checkDatabase, Client, ClientRepository, clientStatusFilter } from '@nso/persistence';
import { ClientBatchQueues } from '@nso/runs';
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
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectQueue(BATCH_QUEUE) private readonly batches: Queue,
    private readonly poolQueues: ClientBatchQueues,
    private readonly clients: ClientRepository,
  ) {}

  async report(): Promise<HealthReport> {
    const [database, redis] = await Promise.all([
      withTimeout(checkDatabase(this.em.fork()), false),
      withTimeout(
        this.redis.ping().then((pong) => pong === 'PONG'),
        false,
      ),
    ]);
    const [queued, clients] = await Promise.all([
      redis ? withTimeout(this.queueStats(), undefined) : undefined,
      database ? withTimeout(this.activeClients(), undefined) : undefined,
    ]);
    const stats = { active_clients: clients ?? 0, ...(queued ?? { pending_tasks: 0, running_tasks: 0 }) };
    return {
      status: database && redis ? 'healthy' : 'unhealthy',
      timestamp: new Date().toISOString(),
      version: process.env.npm_package_version ?? '0.1.0',
      checks: { database, redis },
      stats,
    };
  }

  private async queueStats(): Promise<Omit<HealthReport['stats'], 'active_clients'>> {
    // Every worker pool's batch queue, and the shared one of releases before delegation.
    const queues = [this.batches, ...(await this.clients.poolIds()).map((id) => this.poolQueues.queue(id))];
    const all = await Promise.all(
      queues.map((queue) =>
        queue.getJobCounts('waiting', 'delayed', 'prioritized', 'waiting-children', 'active'),
      ),
    );
    const sum = (key: string) => all.reduce((total, counts) => total + (counts[key] ?? 0), 0);
    return {
      pending_tasks: sum('waiting') + sum('delayed') + sum('prioritized') + sum('waiting-children'),
      running_tasks: sum('active'),
    };
  }

  /** Approved scanner clients (pools and agents) that are online or scanning, by the one status rule. */
  private async activeClients(): Promise<number> {
    const now = new Date();
    const offlineAfter = this.config.clients.offlineAfterMs;
    return this.em.fork().count(Client, {
      isApproved: true,
      $or: [
        clientStatusFilter('online', now, offlineAfter),
        clientStatusFilter('scanning', now, offlineAfter),
      ],
    });
  }
}
