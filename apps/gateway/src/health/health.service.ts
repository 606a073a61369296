import { Inject, Injectable } from '@nestjs/common';
import { REDIS_CLIENT } from '@nso/events';
import { settledWithin } from '@nso/monitoring';
import { DatabaseHealth } from '@nso/persistence';
import Redis from 'ioredis';
import { CurrentLoad, StatsService } from '../stats/stats.service';

const CHECK_TIMEOUT_MS = 2000;

export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  /**
   * Whether a scan can run now: healthy, and an approved, enabled scanner client is online (a worker pool that
   * beat within CLIENT_OFFLINE_AFTER, or an agent). A gateway without one is healthy (it serves the API) but
   * not ready to scan: a start would be a 409 "No approved, online scanner client covers the targets".
   */
  ready: boolean;
  timestamp: string;
  version: string;
  checks: { database: boolean; redis: boolean; approved_client_online: boolean };
  stats: CurrentLoad;
}

/** `GET /api/health`: the database and Redis checks, each bounded by a 2 s timeout, and the current load. */
@Injectable()
export class HealthService {
  constructor(
    private readonly database: DatabaseHealth,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly stats: StatsService,
  ) {}

  /** The report; never throws (a failing or slow check reads false, the counts 0 without a database). */
  async report(): Promise<HealthReport> {
    const [database, redis] = await Promise.all([
      settledWithin(this.database.check(), CHECK_TIMEOUT_MS, false),
      settledWithin(
        this.redis.ping().then((pong) => pong === 'PONG'),
        CHECK_TIMEOUT_MS,
        false,
      ),
    ]);
    // The same counts as GET /api/stats (StatsService): approved clients online or scanning, batch rows pending
    // and running. They need the database; without it they read 0.
    const fallback = { active_clients: 0, pending_tasks: 0, running_tasks: 0 };
    const stats = database
      ? await settledWithin(this.stats.currentLoad(), CHECK_TIMEOUT_MS, fallback)
      : fallback;
    const healthy = database && redis;
    const clientOnline = stats.active_clients > 0;
    return {
      status: healthy ? 'healthy' : 'unhealthy',
      ready: healthy && clientOnline,
      timestamp: new Date().toISOString(),
      version: process.env.npm_package_version ?? '0.1.0',
      checks: { database, redis, approved_client_online: clientOnline },
      stats,
    };
  }
}
