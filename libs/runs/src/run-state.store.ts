// The live state of a run in Redis: which batches are enqueued, finished or still to come, and whether it was
// stopped. Each operation is one Lua script, so gateways and workers racing on one run always agree.
import { Inject, Injectable } from '@nestjs/common';
import { ControlMessage } from '@nso/contracts';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from '@nso/events';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';

const STATE_TTL_SECONDS = 7 * 24 * 3600;
/** Held while one process starts a run of a scan, so two starts cannot both find the scan idle. */
const START_LOCK_MS = 30_000;
/** Held while one request changes a scan's schedule (its row and its BullMQ scheduler together). */
const SCHEDULE_LOCK_MS = 30_000;
/** How long one process may hold a run's reconcile lock (released as soon as it is done). */
const RECONCILE_LOCK_MS = 60_000;

/** Deletes a lock only if it still holds the caller's token (it may have expired and been taken since). */
const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

// KEYS: state hash, inflight set, finished set. ARGV: batches in all, window, TTL in seconds.
// Creates the run's state and claims its first window; returns the claimed batch numbers.
const START = `
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'total', ARGV[1], 'next', 1, 'done', 0, 'failed', 0, 'stopped', 0)
local total = tonumber(ARGV[1])
local claimed = {}
for seq = 1, math.min(tonumber(ARGV[2]), total) do
  redis.call('SADD', KEYS[2], seq)
  table.insert(claimed, seq)
end
redis.call('HSET', KEYS[1], 'next', #claimed + 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return claimed
`;

// KEYS: state hash, inflight set, finished set. ARGV: seq, 'done' | 'failed', TTL in seconds.
// Returns {outcome, done, failed, total, nextSeq}; outcome 1 = counted now, 0 = counted before, -1 = run stopped,
// -2 = the state is gone (Redis lost it): nothing is changed, the run must be reconciled with the database.
const FINISH = `
local totalField = redis.call('HGET', KEYS[1], 'total')
if not totalField then
  return {-2, 0, 0, 0, 0}
end
local total = tonumber(totalField)
if redis.call('HGET', KEYS[1], 'stopped') == '1' then
  redis.call('SREM', KEYS[2], ARGV[1])
  return {-1, 0, 0, total, 0}
end
local first = redis.call('SADD', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[3])
local nextSeq = 0
if first == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
  redis.call('SREM', KEYS[2], ARGV[1])
  local candidate = tonumber(redis.call('HGET', KEYS[1], 'next') or '1')
  if candidate <= total then
    redis.call('HSET', KEYS[1], 'next', candidate + 1)
    redis.call('SADD', KEYS[2], candidate)
    nextSeq = candidate
  end
end
local done = tonumber(redis.call('HGET', KEYS[1], 'done') or '0')
local failed = tonumber(redis.call('HGET', KEYS[1], 'failed') or '0')
return {first, done, failed, total, nextSeq}
`;

// KEYS: state hash, inflight set, finished set. ARGV: total, next, done, failed, TTL in seconds, then the finished
// batch numbers, '|', the batch numbers in flight. Recreates a lost state (one that has no 'total') from what the
// database holds; keeps a 'stopped' flag set meanwhile. Returns 1 when it did, 0 when a state exists.
const REBUILD = `
if redis.call('HGET', KEYS[1], 'total') then
  return 0
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'total', ARGV[1], 'next', ARGV[2], 'done', ARGV[3], 'failed', ARGV[4])
redis.call('HSETNX', KEYS[1], 'stopped', 0)
local target = KEYS[3]
for i = 6, #ARGV do
  if ARGV[i] == '|' then
    target = KEYS[2]
  else
    redis.call('SADD', target, ARGV[i])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[5])
return 1
`;

/** A run's state as rebuilt from its batch rows: see RunStateStore.rebuild. */
export interface RebuiltRunState {
  total: number;
  /** The next batch number to claim (total + 1 when every batch is claimed). */
  next: number;
  /** Batches stored as completed, and as failed (after their last attempt). */
  completed: number[];
  failed: number[];
  /** The batches claimed again now, to be enqueued. */
  inflight: number[];
}

export interface FinishOutcome {
  /**
   * counted: this call counted the batch; duplicate: an earlier attempt did; stopped: the run was stopped;
   * lost: Redis no longer holds the run's state (restarted empty): reconcile the run (RunReconciler).
   */
  outcome: 'counted' | 'duplicate' | 'stopped' | 'lost';
  done: number;
  failed: number;
  total: number;
  /** The batch this call claimed to keep the window full, or undefined. */
  nextSeq?: number;
}

export interface RunProgress {
  done: number;
  failed: number;
  total: number;
  stopped: boolean;
}

type RunStateRedis = Redis & {
  nsoStartRun(
    state: string,
    inflight: string,
    finished: string,
    total: number,
    window: number,
    ttl: number,
  ): Promise<number[]>;
  nsoFinishBatch(
    state: string,
    inflight: string,
    finished: string,
    seq: number,
    kind: 'done' | 'failed',
    ttl: number,
  ): Promise<number[]>;
  nsoRebuildRun(
    state: string,
    inflight: string,
    finished: string,
    ...args: Array<string | number>
  ): Promise<number>;
};

/** Releases a lock taken with RunStateStore.lockScanStart or lockReconcile; never throws. */
export type ReleaseLock = () => Promise<void>;

@Injectable()
export class RunStateStore {
  private readonly redis: RunStateRedis;

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
  ) {
    if (!('nsoStartRun' in redis)) {
      redis.defineCommand('nsoStartRun', { numberOfKeys: 3, lua: START });
      redis.defineCommand('nsoFinishBatch', { numberOfKeys: 3, lua: FINISH });
      redis.defineCommand('nsoRebuildRun', { numberOfKeys: 3, lua: REBUILD });
    }
    this.redis = redis as RunStateRedis;
  }

  private names(resultId: number) {
    const state = this.keys.runState(resultId);
    return { state, inflight: `${state}:inflight`, finished: `${state}:finished` };
  }

  /** Creates the state of a new run and claims its first window of batches, in one round trip. */
  start(resultId: number, batchesTotal: number, window: number): Promise<number[]> {
    const { state, inflight, finished } = this.names(resultId);
    return this.redis.nsoStartRun(state, inflight, finished, batchesTotal, window, STATE_TTL_SECONDS);
  }

  /** Counts a batch as finished (once, whatever the retries) and claims the next batch of the window. */
  async finish(resultId: number, seq: number, kind: 'done' | 'failed'): Promise<FinishOutcome> {
    const { state, inflight, finished } = this.names(resultId);
    const [first, done, failed, total, nextSeq] = await this.redis.nsoFinishBatch(
      state,
      inflight,
      finished,
      seq,
      kind,
      STATE_TTL_SECONDS,
    );
    const outcomes = { 1: 'counted', 0: 'duplicate', [-1]: 'stopped', [-2]: 'lost' } as const;
    return {
      outcome: outcomes[first as 1 | 0 | -1 | -2],
      done,
      failed,
      total,
      nextSeq: nextSeq > 0 ? nextSeq : undefined,
    };
  }

  /** Marks the run stopped (no batch is claimed afterwards) and returns the batches still in flight. */
  async stop(resultId: number): Promise<number[]> {
    const { state, inflight } = this.names(resultId);
    const [, members] = (await this.redis.multi().hset(state, 'stopped', 1).smembers(inflight).exec()) ?? [];
    return ((members?.[1] as string[]) ?? []).map(Number);
  }

  /**
   * Recreates the state of a run that Redis lost, unless one exists (then false: someone else rebuilt it, or it
   * was never lost). One script: concurrent reconcilers cannot both rebuild. A /8 run's finished set (up to
   * 65,536 numbers) goes in the one call too.
   */
  async rebuild(resultId: number, state: RebuiltRunState): Promise<boolean> {
    const names = this.names(resultId);
    const rebuilt = await this.redis.nsoRebuildRun(
      names.state,
      names.inflight,
      names.finished,
      state.total,
      state.next,
      state.completed.length,
      state.failed.length,
      STATE_TTL_SECONDS,
      ...state.completed,
      ...state.failed,
      '|',
      ...state.inflight,
    );
    return rebuilt === 1;
  }

  /**
   * Batch `seq` now goes to `clientId`'s queue instead of the one its run's delegation gives (its agent could not
   * be reached, or its pool was revoked). Read back by movedTo, so a stop or a reconciliation finds its job.
   */
  async moveBatch(resultId: number, seq: number, clientId: string): Promise<void> {
    const key = `${this.names(resultId).state}:moved`;
    await this.redis.multi().hset(key, String(seq), clientId).expire(key, STATE_TTL_SECONDS).exec();
  }

  /** The client batch `seq` was moved to (moveBatch), if it was. */
  async movedTo(resultId: number, seq: number): Promise<string | undefined> {
    return (await this.redis.hget(`${this.names(resultId).state}:moved`, String(seq))) ?? undefined;
  }

  /** The hash of when each batch split off a straggler was claimed (BatchSplitter's script writes it). */
  splitClaimsKey(resultId: number): string {
    return `${this.names(resultId).state}:splitAt`;
  }

  /**
   * When batch `seq` was claimed by a straggler's split, in ms since the epoch (Redis's clock); undefined for a
   * planned batch, or a split claimed before these times were kept.
   */
  async splitClaimedAt(resultId: number, seq: number): Promise<number | undefined> {
    const at = await this.redis.hget(this.splitClaimsKey(resultId), String(seq));
    return at === null ? undefined : Number(at);
  }

  /** The batches claimed and not yet finished. */
  async inflight(resultId: number): Promise<number[]> {
    return (await this.redis.smembers(this.names(resultId).inflight)).map(Number);
  }

  async isInflight(resultId: number, seq: number): Promise<boolean> {
    return (await this.redis.sismember(this.names(resultId).inflight, seq)) === 1;
  }

  async isStopped(resultId: number): Promise<boolean> {
    return (await this.redis.hget(this.names(resultId).state, 'stopped')) === '1';
  }

  async progress(resultId: number): Promise<RunProgress | undefined> {
    const fields = await this.redis.hgetall(this.names(resultId).state);
    if (!fields.total) return undefined;
    return {
      done: Number(fields.done),
      failed: Number(fields.failed),
      total: Number(fields.total),
      stopped: fields.stopped === '1',
    };
  }

  /**
   * Tells every worker to end its nmap processes of the run (they listen on the control channel). Call after
   * stop(), so that a batch a worker takes meanwhile finds the run stopped.
   */
  async announceStop(scanId: number, resultId: number): Promise<void> {
    const message: ControlMessage = { type: 'stop', scanId, resultId };
    await this.redis.publish(this.keys.controlChannel, JSON.stringify(message));
  }

  /** Takes the lock under which one process starts a run of the scan; undefined when another holds it. */
  lockScanStart(scanId: number): Promise<ReleaseLock | undefined> {
    return this.lock(this.keys.scanStartLock(scanId), START_LOCK_MS);
  }

  /**
   * Takes the lock under which one process changes the scan's schedule (ScanSchedules.serialized); undefined
   * when another holds it. The key family is ScanSchedules' own: `<prefix>:scan:<id>:schedule-lock`.
   */
  lockScanSchedule(scanId: number): Promise<ReleaseLock | undefined> {
    return this.lock(`${this.keys.prefix}:scan:${scanId}:schedule-lock`, SCHEDULE_LOCK_MS);
  }

  /** Takes the lock under which one process reconciles the run; undefined when another holds it. */
  lockReconcile(resultId: number): Promise<ReleaseLock | undefined> {
    return this.lock(this.keys.runReconcileLock(resultId), RECONCILE_LOCK_MS);
  }

  /** SET NX with a TTL, so a holder that dies frees it; released by its token. */
  private async lock(key: string, ms: number): Promise<ReleaseLock | undefined> {
    const token = randomBytes(8).toString('hex');
    if ((await this.redis.set(key, token, 'PX', ms, 'NX')) !== 'OK') return undefined;
    return async () => {
      await this.redis.eval(RELEASE_LOCK, 1, key, token).catch(() => undefined);
    };
  }
}
