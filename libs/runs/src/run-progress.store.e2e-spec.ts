// RunProgressStore's scripts against a real Redis, beside a real RunStateStore: what a gateway reads is what the
// workers stored, a completed batch's addresses count once, a late report of a finished batch is not stored.
import { redisKeys } from '@nso/contracts';
import Redis from 'ioredis';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from '../../../test/support/redis';
import { BatchProgressReport } from './run-progress';
import { RunProgressStore } from './run-progress.store';
import { RunStateStore } from './run-state.store';

const report = (percent: number, hostsDone: number): BatchProgressReport => ({
  task: 'Connect Scan',
  taskPercent: percent,
  remaining: 10,
  percent,
  hostsDone,
  hostsTotal: 256,
  at: 0,
});

describe('RunProgressStore', () => {
  const prefix = testRedisPrefix('progress');
  const redis = new Redis(testRedisUrl());
  const keys = redisKeys(prefix);
  const state = new RunStateStore(redis, keys);
  const store = new RunProgressStore(redis, keys);
  let now = 1_000_000;
  store.now = () => now;

  afterAll(async () => {
    redis.disconnect();
    await clearRedisPrefix(prefix);
  });

  it('keeps the running batches’ reports and the completed ones’ hosts; any reader sees the same', async () => {
    await store.begin(1, 1024);
    await state.start(1, 4, 2);
    now += 20_000;
    await store.report(1, 1, report(40, 0));
    const second = await store.report(1, 2, report(60, 128));
    // (0.4 + 0.6) / 4 = 25 % after 20 s: 60 s to go.
    expect(second).toMatchObject({ percent: 25, hosts_done: 128, hosts_total: 1024, eta_seconds: 60 });

    await state.finish(1, 1, 'done');
    const finished = await store.finish(1, 1, 'done');
    expect(finished).toMatchObject({ percent: 40, batches_done: 1, hosts_done: 256 + 128 });
    // A retried count (the same batch finished again) adds nothing; nor does a late report of it.
    await store.finish(1, 1, 'done');
    await store.report(1, 1, report(90, 200));
    const reader = new RunProgressStore(redis, keys);
    reader.now = () => now;
    const read = await reader.snapshot(1);
    expect(read).toMatchObject({ percent: 40, hosts_done: 384 });
    expect([...read!.running.keys()]).toEqual([2]);
  });

  it('counts no hosts of a failed batch, and reports nothing for a run Redis does not know', async () => {
    await store.begin(2, 512);
    await state.start(2, 2, 2);
    await store.report(2, 1, report(50, 100));
    await state.finish(2, 1, 'failed');
    expect(await store.finish(2, 1, 'failed')).toMatchObject({
      batches_failed: 1,
      hosts_done: 0,
      percent: 50,
    });
    expect(await store.snapshot(3)).toBeUndefined();
    expect(await store.report(3, 1, report(50, 0))).toBeUndefined();
  });
});
