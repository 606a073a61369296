// RunStateStore's scripts against a real Redis: a run's window counts the batches being scanned. A batch whose
// nmap ended (release) claims its successor at once and none when it is counted; once per batch whatever its
// attempts; never on a stopped run; and a state rebuilt from the database forgets what was released.
import { redisKeys } from '@nso/contracts';
import Redis from 'ioredis';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from '../../../test/support/redis';
import { RunStateStore } from './run-state.store';

const RUN = 42;

describe('RunStateStore against Redis', () => {
  let redis: Redis;
  let prefix: string;
  let state: RunStateStore;

  beforeEach(() => {
    prefix = testRedisPrefix('run-state');
    redis = new Redis(testRedisUrl());
    state = new RunStateStore(redis, redisKeys(prefix));
  });
  afterEach(async () => {
    await clearRedisPrefix(prefix);
    redis.disconnect();
  });

  it('claims the next batch when a batch is released, and none when it is then counted', async () => {
    expect(await state.start(RUN, 5, 2)).toEqual([1, 2]);
    // Batch 1's nmap ended: batch 3 may be scanned while 1 is stored.
    expect(await state.release(RUN, 1)).toBe(3);
    expect((await state.inflight(RUN)).sort()).toEqual([1, 2, 3]);
    // A retry of batch 1 (its store failed) scans again without claiming more.
    expect(await state.release(RUN, 1)).toBeUndefined();
    expect(await state.finish(RUN, 1, 'done')).toMatchObject({
      outcome: 'counted',
      done: 1,
      nextSeq: undefined,
    });
    // Batch 2 is counted without a release (an agent's, or a failure): it claims its successor then.
    expect(await state.finish(RUN, 2, 'failed')).toMatchObject({ outcome: 'counted', nextSeq: 4 });
    expect((await state.inflight(RUN)).sort()).toEqual([3, 4]);
    // Releases past the last batch claim nothing; counting a finished batch again changes nothing.
    expect(await state.release(RUN, 3)).toBe(5);
    expect(await state.release(RUN, 4)).toBeUndefined();
    expect(await state.finish(RUN, 1, 'done')).toMatchObject({ outcome: 'duplicate', nextSeq: undefined });
    for (const seq of [3, 4, 5]) await state.finish(RUN, seq, 'done');
    expect(await state.progress(RUN)).toEqual({ done: 4, failed: 1, total: 5, stopped: false });
    expect(await state.inflight(RUN)).toEqual([]);
    expect(await redis.exists(`${redisKeys(prefix).runState(RUN)}:released`)).toBe(0);
  });

  it('releases nothing for a batch not in flight, or of a stopped run', async () => {
    await state.start(RUN, 4, 1);
    expect(await state.release(RUN, 2)).toBeUndefined(); // not claimed yet
    await state.stop(RUN);
    expect(await state.release(RUN, 1)).toBeUndefined();
    expect(await state.inflight(RUN)).toEqual([1]);
    expect(await state.release(999, 1)).toBeUndefined(); // no state
  });

  it('forgets the released batches when the state is rebuilt from the database', async () => {
    await state.start(RUN, 4, 2);
    await state.release(RUN, 1);
    await redis.del(redisKeys(prefix).runState(RUN)); // the state hash lost, its sets left behind
    const rebuilt = { total: 4, next: 3, completed: [], failed: [], inflight: [1, 2] };
    expect(await state.rebuild(RUN, rebuilt)).toBe(true);
    // Batch 1 counts as never released: counting it claims batch 3.
    expect(await state.finish(RUN, 1, 'done')).toMatchObject({ nextSeq: 3 });
  });
});
