// BatchSplitter's script against a real Redis, with RunStateStore's own scripts around it: a split grows the
// run's total and claims the new batches once, never while planned batches are unclaimed, never for a batch out
// of flight or a stopped run; the run then ends only when the new batches finish.
import type { AppConfig } from '@nso/config';
import { redisKeys } from '@nso/contracts';
import type { ScanEventPublisher } from '@nso/events';
import type { NmapHost } from '@nso/nmap';
import type { BatchSplitRepository, RunRepository } from '@nso/persistence';
import Redis from 'ioredis';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from '../../../test/support/redis';
import type { BatchQueue } from './batch-queue';
import { BatchSplitter, StragglerBatch } from './batch-split';
import type { ClientBatchQueues } from './client-batch-queues';
import { RunStateStore } from './run-state.store';

const ref = { scanId: 1, resultId: 42 };
const host = (address: string) => ({ address, state: 'up', ports: [] }) as unknown as NmapHost;
const straggler = (seq: number): StragglerBatch => ({
  batchId: 100 + seq,
  seq,
  targets: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'],
  hostnames: { '127.0.0.4': ['four.test'] },
  pool: 'local',
  workerId: 'w1',
});

describe('BatchSplitter against Redis', () => {
  let redis: Redis;
  let prefix: string;
  let state: RunStateStore;
  let splitter: BatchSplitter;
  let rows: Array<{ seq: number; targets: string[] }>;
  let queued: Array<{ seq: number; clientId: string; targets: string[]; hostnames: unknown }>;
  let published: unknown[];
  let narrowed: Array<{ batchId: number; targets: string[] }>;

  beforeEach(() => {
    prefix = testRedisPrefix('batch-split');
    redis = new Redis(testRedisUrl());
    const keys = redisKeys(prefix);
    state = new RunStateStore(redis, keys);
    rows = [];
    queued = [];
    published = [];
    narrowed = [];
    splitter = new BatchSplitter(
      { workerConcurrency: 2 } as AppConfig,
      redis,
      keys,
      state,
      {} as ClientBatchQueues,
      {
        enqueueSplit: async (
          _p: unknown,
          seq: number,
          clientId: string,
          targets: string[],
          hostnames: unknown,
        ) => void queued.push({ seq, clientId, targets, hostnames }),
      } as unknown as BatchQueue,
      {
        splitOff: async (
          _r: number,
          batches: Array<{ seq: number; targets: string[] }>,
          kept: { batchId: number; targets: string[] },
        ) => {
          rows.push(...batches);
          narrowed.push(kept);
          return batches.length;
        },
      } as unknown as BatchSplitRepository,
      { findOrFail: async () => ({ targets: [], chunkSize: 5, nmapFlags: [] }) } as unknown as RunRepository,
      {
        publish: async (_r: unknown, body: unknown) => void published.push(body),
      } as unknown as ScanEventPublisher,
    );
  });
  afterEach(async () => {
    await clearRedisPrefix(prefix);
    redis.disconnect();
  });

  it('adds the unreported addresses as two batches above the total, claimed once; the run ends after them', async () => {
    await state.start(ref.resultId, 3, 3);
    await state.finish(ref.resultId, 1, 'done');
    await state.finish(ref.resultId, 2, 'done');
    const outcome = await splitter.split(ref, straggler(3), [host('127.0.0.2')]);
    expect(outcome).toEqual({ outcome: 'split', seqs: [4, 5], reported: [host('127.0.0.2')] });
    expect(rows).toEqual([
      { seq: 4, targets: ['127.0.0.1', '127.0.0.3'] },
      { seq: 5, targets: ['127.0.0.4', '127.0.0.5'] },
    ]);
    // The straggler's row keeps only the address it reported.
    expect(narrowed).toEqual([{ batchId: 103, targets: ['127.0.0.2'] }]);
    expect(queued.map((q) => [q.seq, q.clientId, q.hostnames])).toEqual([
      [4, 'local', {}],
      [5, 'local', { '127.0.0.4': ['four.test'] }],
    ]);
    expect(published).toEqual([
      expect.objectContaining({ event: 'batch_split', batch_id: 3, batch_ids: [4, 5], targets_requeued: 4 }),
    ]);
    expect((await state.inflight(ref.resultId)).sort()).toEqual([3, 4, 5]);
    // When the new numbers were claimed (Redis's clock), for the reconciler; a planned batch has no such time.
    const [claimedAt4, claimedAt5] = [await state.splitClaimedAt(42, 4), await state.splitClaimedAt(42, 5)];
    expect(Math.abs(claimedAt4! - Date.now())).toBeLessThan(60_000);
    expect(claimedAt5).toBe(claimedAt4);
    expect(await state.splitClaimedAt(42, 3)).toBeUndefined();
    // The new batches finish first: no batch is claimed twice, and the run waits for the straggler's result.
    expect(await state.finish(ref.resultId, 4, 'done')).toMatchObject({
      done: 3,
      total: 5,
      nextSeq: undefined,
    });
    expect(await state.finish(ref.resultId, 5, 'done')).toMatchObject({
      done: 4,
      total: 5,
      nextSeq: undefined,
    });
    // Split once: a retry of the straggler (its result not stored) runs whole, however long it takes.
    expect(await splitter.isStraggler(ref, 3, 'local', 1e9)).toBe(false);
    expect(await splitter.split(ref, straggler(3), [])).toEqual({ outcome: 'refused' });
    expect(await state.progress(ref.resultId)).toMatchObject({ total: 5 });
    expect(await state.finish(ref.resultId, 3, 'done')).toMatchObject({ done: 5, total: 5 });
  });

  it('refuses while planned batches are unclaimed, for a batch out of flight, and on a stopped run', async () => {
    await state.start(ref.resultId, 4, 2); // batches 3 and 4 not claimed yet
    expect(await splitter.split(ref, straggler(1), [])).toEqual({ outcome: 'refused' });
    await state.finish(ref.resultId, 1, 'done');
    await state.finish(ref.resultId, 2, 'done');
    await state.finish(ref.resultId, 3, 'done');
    expect(await splitter.split(ref, straggler(3), [])).toEqual({ outcome: 'refused' }); // finished
    await state.stop(ref.resultId);
    expect(await splitter.split(ref, straggler(4), [])).toEqual({ outcome: 'stopped' });
    expect(rows).toEqual([]);
    expect(queued).toEqual([]);
    expect(await state.progress(ref.resultId)).toMatchObject({ total: 4 });
  });

  it('queues nothing when nmap had reported every address', async () => {
    await state.start(ref.resultId, 1, 1);
    const all = straggler(1).targets.map(host);
    expect(await splitter.split(ref, straggler(1), all)).toMatchObject({ outcome: 'split', seqs: [] });
    expect(await state.progress(ref.resultId)).toMatchObject({ total: 1 });
    expect(published).toEqual([expect.objectContaining({ batch_ids: [], targets_requeued: 0 })]);
  });
});
