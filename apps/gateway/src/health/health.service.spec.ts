import type { DatabaseHealth } from '@nso/persistence';
import type Redis from 'ioredis';
import type { CurrentLoad, StatsService } from '../stats/stats.service';
import { HealthService } from './health.service';

function setup(options: { database?: boolean; pong?: string; load?: CurrentLoad }) {
  const database = { check: () => Promise.resolve(options.database ?? true) } as unknown as DatabaseHealth;
  const redis = { ping: () => Promise.resolve(options.pong ?? 'PONG') } as unknown as Redis;
  const load = options.load ?? { active_clients: 1, pending_tasks: 3, running_tasks: 2 };
  let loads = 0;
  const stats = {
    currentLoad: () => Promise.resolve(void loads++).then(() => load),
  } as unknown as StatsService;
  return { health: new HealthService(database, redis, stats), loads: () => loads };
}

describe('HealthService', () => {
  it('is healthy and ready with the database, Redis and an approved client online', async () => {
    const { health } = setup({});
    await expect(health.report()).resolves.toMatchObject({
      status: 'healthy',
      ready: true,
      checks: { database: true, redis: true, approved_client_online: true },
      stats: { active_clients: 1, pending_tasks: 3, running_tasks: 2 },
    });
  });

  it('is healthy but not ready without an approved client online', async () => {
    const { health } = setup({ load: { active_clients: 0, pending_tasks: 0, running_tasks: 0 } });
    await expect(health.report()).resolves.toMatchObject({
      status: 'healthy',
      ready: false,
      checks: { approved_client_online: false },
    });
  });

  it('is unhealthy without the database, and reads its counts as 0 without asking', async () => {
    const { health, loads } = setup({ database: false });
    await expect(health.report()).resolves.toMatchObject({
      status: 'unhealthy',
      ready: false,
      checks: { database: false, redis: true, approved_client_online: false },
      stats: { active_clients: 0, pending_tasks: 0, running_tasks: 0 },
    });
    expect(loads()).toBe(0);
  });

  it('is unhealthy when Redis does not answer PONG', async () => {
    const { health } = setup({ pong: 'nope' });
    await expect(health.report()).resolves.toMatchObject({ status: 'unhealthy', checks: { redis: false } });
  });
});
