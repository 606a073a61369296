// Stragglers (issue 20, docs/api.md "Stragglers and stalls"): when every other batch of a run has finished and a
// worker of the pool is idle, a running batch whose nmap has more than twice the run's median batch time left is
// split. The worker running it asks here whether it is a straggler (isStraggler), ends its nmap, and hands over
// what nmap had reported (split): the addresses not reported go back on the pool's queue as two new batches of
// the run (numbers above every batch planned, the run's total grown by two, in Redis and in the database), and
// the hosts reported become the straggler's own result, stored once like any batch's. The run ends when the new
// batches are done: they are counted like every other batch (RunStateStore.finish, RunFinalizer).
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys, ScanEventPublisher } from '@nso/events';
import { canonicalIpAddress, type NmapHost } from '@nso/nmap';
import { BatchSplitRepository, RunRepository } from '@nso/persistence';
import Redis from 'ioredis';
import { BatchQueue, runPlanOf } from './batch-queue';
import { ClientBatchQueues } from './client-batch-queues';
import type { RunRef } from './run-commands';
import { RunStateStore } from './run-state.store';

const STATE_TTL_SECONDS = 7 * 24 * 3600;
/** Runs whose median batch time this process keeps (BatchSplitter.medianSeconds). */
const MEDIAN_CACHE_SIZE = 16;

// KEYS: state hash, inflight set, moved hash, split set, claim times hash. ARGV: the straggler's seq, how many
// batches to add, the pool, TTL. Grows the run's total by ARGV[2] and claims the new batch numbers (in flight at
// once, on the pool: `moved`; when: the claim times, in ms of the Redis clock), if the run is not stopped, the
// straggler is still in flight and was never split (a retry of it runs whole and is not split again), and every
// planned batch is claimed (the cursor is past the total, so no window refill can claim the new numbers twice).
// Returns {1, first new seq}, or {0} (not in flight, split before, or batches still to claim), {-1} (stopped),
// {-2} (the state is gone).
const SPLIT = `
local totalField = redis.call('HGET', KEYS[1], 'total')
if not totalField then
  return {-2}
end
if redis.call('HGET', KEYS[1], 'stopped') == '1' then
  return {-1}
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 or redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then
  return {0}
end
local total = tonumber(totalField)
if tonumber(redis.call('HGET', KEYS[1], 'next') or '1') <= total then
  return {0}
end
local count = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('HSET', KEYS[1], 'total', total + count, 'next', total + count + 1)
for seq = total + 1, total + count do
  redis.call('SADD', KEYS[2], seq)
  redis.call('HSET', KEYS[3], seq, ARGV[3])
  redis.call('HSET', KEYS[5], seq, now)
end
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[4], ARGV[4])
redis.call('EXPIRE', KEYS[5], ARGV[4])
return {1, total + 1}
`;

type SplitRedis = Redis & {
  nsoSplitBatch(
    state: string,
    inflight: string,
    moved: string,
    splits: string,
    claimedAt: string,
    seq: number,
    count: number,
    pool: string,
    ttl: number,
  ): Promise<number[]>;
};

/** The straggler as its worker runs it. */
export interface StragglerBatch {
  batchId: number;
  seq: number;
  /** The addresses nmap was handed (a batch holds addresses only). */
  targets: string[];
  /** The names the user gave for some of them (the job's `hostnames`). */
  hostnames: Record<string, string[]>;
  /** The worker pool it runs on: the new batches go on its queue. */
  pool: string;
  workerId: string;
}

/** What became of a split: `split` (the new batches are queued), `stopped` (the run was), `refused` (see SPLIT). */
export type SplitOutcome =
  | { outcome: 'split'; seqs: number[]; reported: NmapHost[] }
  | { outcome: 'stopped' }
  | { outcome: 'refused' };

/**
 * Decides whether a running batch is a straggler and splits it. Safe with any number of workers: the split is
 * one Lua script over the run's state, which refuses unless every planned batch is claimed and the straggler is
 * still in flight, so a batch is split at most once per attempt and the new numbers are never claimed twice.
 */
@Injectable()
export class BatchSplitter {
  private readonly redis: SplitRedis;
  private readonly medians = new Map<number, { done: number; median: number | undefined }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_CLIENT) redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    private readonly state: RunStateStore,
    private readonly queues: ClientBatchQueues,
    private readonly queue: BatchQueue,
    private readonly splits: BatchSplitRepository,
    private readonly runs: RunRepository,
    private readonly events: ScanEventPublisher,
  ) {
    if (!('nsoSplitBatch' in redis)) redis.defineCommand('nsoSplitBatch', { numberOfKeys: 5, lua: SPLIT });
    this.redis = redis as SplitRedis;
  }

  /**
   * Whether batch `seq` (running on `pool`, nmap's estimate `remainingSeconds` left) is a straggler to split now:
   * it was never split, it is the run's only unfinished batch, the pool's queue has no job waiting and fewer jobs active than its
   * workers can run (workers connected × WORKER_CONCURRENCY: a worker is idle), and it has more than twice the
   * median duration of the run's completed batches left (no completed batch: no median, no split).
   */
  async isStraggler(ref: RunRef, seq: number, pool: string, remainingSeconds: number): Promise<boolean> {
    const progress = await this.state.progress(ref.resultId);
    if (!progress || progress.stopped || progress.done + progress.failed !== progress.total - 1) return false;
    if (!(await this.state.isInflight(ref.resultId, seq))) return false;
    // A batch is split once: a retry of a straggler whose result could not be stored runs whole.
    if (await this.redis.sismember(`${this.keys.runState(ref.resultId)}:split`, seq)) return false;
    const queue = this.queues.queue(pool);
    const [waiting, active, workers] = await Promise.all([
      queue.getJobCountByTypes('waiting', 'prioritized', 'delayed'),
      queue.getActiveCount(),
      queue.getWorkersCount(),
    ]);
    if (waiting > 0 || active >= workers * this.config.workerConcurrency) return false;
    const median = await this.medianSeconds(ref.resultId, progress.done);
    return median !== undefined && remainingSeconds > 2 * median;
  }

  /**
   * The median duration of the run's completed batches, read from the database once per count of batches done
   * (a /8 run has 65,536 rows; the straggler asks every 2 s while it runs).
   */
  private async medianSeconds(resultId: number, done: number): Promise<number | undefined> {
    const known = this.medians.get(resultId);
    if (known?.done === done) return known.median;
    const median = medianOf(await this.splits.completedDurations(resultId));
    if (this.medians.size >= MEDIAN_CACHE_SIZE)
      this.medians.delete(this.medians.keys().next().value as number);
    this.medians.set(resultId, { done, median });
    return median;
  }

  /**
   * Splits the straggler: the addresses of `batch.targets` that no host of `reported` has go back on the pool's
   * queue in two halves as new batches (one when a single address is left, none when nmap reported them all).
   * Order: the new numbers are claimed in Redis, their rows created `pending` with the run's total grown (one
   * transaction), their jobs queued, `batch_split` published. The caller then stores `reported` as the
   * straggler's result (RunService.batchCompleted), so the run cannot end before the new batches do.
   */
  async split(ref: RunRef, batch: StragglerBatch, reported: readonly NmapHost[]): Promise<SplitOutcome> {
    const seen = new Set(reported.map((host) => canonical(host.address)));
    // The straggler keeps what nmap reported; the rest goes on in halves.
    const kept: string[] = [];
    const unreported: string[] = [];
    for (const address of batch.targets) (seen.has(canonical(address)) ? kept : unreported).push(address);
    const halves = halvesOf(unreported);
    let seqs: number[] = [];
    if (halves.length > 0) {
      const state = this.keys.runState(ref.resultId);
      const [verdict, first] = await this.redis.nsoSplitBatch(
        state,
        `${state}:inflight`,
        `${state}:moved`,
        `${state}:split`,
        this.state.splitClaimsKey(ref.resultId),
        batch.seq,
        halves.length,
        batch.pool,
        STATE_TTL_SECONDS,
      );
      if (verdict === -1) return { outcome: 'stopped' };
      if (verdict !== 1) return { outcome: 'refused' };
      seqs = halves.map((_, i) => first + i);
      await this.splits.splitOff(
        ref.resultId,
        halves.map((targets, i) => ({ seq: seqs[i], targets })),
        { batchId: batch.batchId, targets: kept },
      );
      const plan = runPlanOf(ref, await this.runs.findOrFail(ref.resultId));
      for (const [i, targets] of halves.entries()) {
        await this.queue.enqueueSplit(plan, seqs[i], batch.pool, targets, namesOf(batch.hostnames, targets));
      }
    }
    await this.events.publish(ref, {
      event: 'batch_split',
      batch_id: batch.seq,
      batch_ids: seqs,
      hosts_reported: reported.length,
      targets_requeued: unreported.length,
      worker: batch.workerId,
    });
    return { outcome: 'split', seqs, reported: [...reported] };
  }
}

/** The median of ascending `values`; undefined when there are none. */
export function medianOf(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const mid = Math.floor(values.length / 2);
  return values.length % 2 === 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

/** `addresses` in two halves, in order (the first one larger by one when odd); empty halves left out. */
export function halvesOf(addresses: readonly string[]): string[][] {
  const cut = Math.ceil(addresses.length / 2);
  return [addresses.slice(0, cut), addresses.slice(cut)].filter((half) => half.length > 0);
}

function canonical(address: string): string {
  return canonicalIpAddress(address) ?? address;
}

function namesOf(hostnames: Record<string, string[]>, targets: readonly string[]): Record<string, string[]> {
  const names: Record<string, string[]> = {};
  for (const address of targets) if (hostnames[address]) names[address] = hostnames[address];
  return names;
}
