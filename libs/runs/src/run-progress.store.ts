// A run's live progress in Redis, next to its state (RunStateStore): what each running batch's nmap reported
// last, the addresses of the batches completed so far, the run's address count and start. Any gateway or worker
// reads it (RunProgressStore.snapshot) and computes the same figures (runProgressOf): nothing lives in one
// process's memory.
//
// Keys (beside RunStateStore's `<prefix>:run:<id>` hash and its `:finished` set):
//   <prefix>:run:<id>:progress  hash  hosts_total, started_at (ms), hosts_finished
//   <prefix>:run:<id>:running   hash  batch number → BatchProgressReport as JSON (batches running now)
import { Inject, Injectable } from '@nestjs/common';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from '@nso/events';
import Redis from 'ioredis';
import { BatchProgressReport, runProgressOf, RunProgressView } from './run-progress';

/** As RunStateStore's keys: a week after the last write. */
const PROGRESS_TTL_SECONDS = 7 * 24 * 3600;

// KEYS: state hash, finished set, progress hash, running hash. ARGV: seq, report JSON, now (ms), TTL.
// Stores a running batch's report unless the batch is finished already (a late report must not bring it back),
// then returns what snapshot() reads.
const REPORT = `
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
  redis.call('HSETNX', KEYS[3], 'started_at', ARGV[3])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
  redis.call('EXPIRE', KEYS[4], ARGV[4])
end
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[3]), redis.call('HGETALL', KEYS[4])}
`;

// KEYS: state hash, progress hash, running hash. ARGV: seq, 'done' | 'failed'.
// A finished batch leaves the running ones; a completed one's addresses count as done (once: only the call that
// removes its report counts them). Returns what snapshot() reads.
const FINISH = `
local report = redis.call('HGET', KEYS[3], ARGV[1])
if report and redis.call('HDEL', KEYS[3], ARGV[1]) == 1 and ARGV[2] == 'done' then
  local hosts = tonumber(cjson.decode(report)['hostsTotal']) or 0
  redis.call('HINCRBY', KEYS[2], 'hosts_finished', hosts)
end
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3])}
`;

type Fields = string[];
type ProgressRedis = Redis & {
  nsoReportProgress(...args: Array<string | number>): Promise<[Fields, Fields, Fields]>;
  nsoFinishProgress(...args: Array<string | number>): Promise<[Fields, Fields, Fields]>;
};

/** A run's progress and the reports of its running batches, by batch number. */
export interface RunProgressSnapshot extends RunProgressView {
  running: Map<number, BatchProgressReport>;
}

/** Reads and writes a run's live progress (see the keys above); every call is one round trip. */
@Injectable()
export class RunProgressStore {
  private readonly redis: ProgressRedis;
  /** The clock, in milliseconds since the epoch (tests set their own). */
  now: () => number = Date.now;

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
  ) {
    if (!('nsoReportProgress' in redis)) {
      redis.defineCommand('nsoReportProgress', { numberOfKeys: 4, lua: REPORT });
      redis.defineCommand('nsoFinishProgress', { numberOfKeys: 3, lua: FINISH });
    }
    this.redis = redis as ProgressRedis;
  }

  private names(resultId: number) {
    const state = this.keys.runState(resultId);
    return {
      state,
      finished: `${state}:finished`,
      progress: `${state}:progress`,
      running: `${state}:running`,
    };
  }

  /** A run starts: its address count and start (now), for hosts_total and the ETA. */
  async begin(resultId: number, hostsTotal: number): Promise<void> {
    const { progress, running } = this.names(resultId);
    await this.redis
      .multi()
      .del(running)
      .hset(progress, 'hosts_total', hostsTotal, 'started_at', this.now(), 'hosts_finished', 0)
      .expire(progress, PROGRESS_TTL_SECONDS)
      .exec();
  }

  /**
   * Stores what running batch `seq` reported (replacing its previous report: a new attempt starts from its own
   * first report) and returns the run's progress with it. Nothing is stored for a batch already finished or a
   * run whose state is gone (then undefined). The run's start is taken from the first report when begin() was
   * not called (a run started before this code, or whose progress Redis lost).
   */
  async report(
    resultId: number,
    seq: number,
    report: BatchProgressReport,
  ): Promise<RunProgressSnapshot | undefined> {
    const n = this.names(resultId);
    const now = this.now();
    const read = await this.redis.nsoReportProgress(
      n.state,
      n.finished,
      n.progress,
      n.running,
      seq,
      JSON.stringify(report),
      now,
      PROGRESS_TTL_SECONDS,
    );
    return snapshotOf(read, now);
  }

  /**
   * Batch `seq` finished (after RunStateStore.finish counted it): its report goes, and a completed batch's
   * addresses count as done. Returns the run's progress after it.
   */
  async finish(
    resultId: number,
    seq: number,
    kind: 'done' | 'failed',
  ): Promise<RunProgressSnapshot | undefined> {
    const n = this.names(resultId);
    const read = await this.redis.nsoFinishProgress(n.state, n.progress, n.running, seq, kind);
    return snapshotOf(read, this.now());
  }

  /** The run's progress now; undefined when Redis holds no state of the run (ended long ago, or lost). */
  async snapshot(resultId: number): Promise<RunProgressSnapshot | undefined> {
    const n = this.names(resultId);
    const replies =
      (await this.redis.multi().hgetall(n.state).hgetall(n.progress).hgetall(n.running).exec()) ?? [];
    const [state, progress, running] = replies.map(([, value]) => value as Record<string, string>);
    return snapshotFrom(state ?? {}, progress ?? {}, running ?? {}, this.now());
  }
}

function snapshotOf(read: [Fields, Fields, Fields], now: number): RunProgressSnapshot | undefined {
  const [state, progress, running] = read.map(pairs);
  return snapshotFrom(state, progress, running, now);
}

function snapshotFrom(
  state: Record<string, string>,
  progress: Record<string, string>,
  running: Record<string, string>,
  now: number,
): RunProgressSnapshot | undefined {
  if (!state.total) return undefined;
  const reports = new Map<number, BatchProgressReport>();
  for (const [seq, json] of Object.entries(running)) {
    try {
      reports.set(Number(seq), JSON.parse(json) as BatchProgressReport);
    } catch {
      // A report nothing can read counts as no report.
    }
  }
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  const view = runProgressOf({
    done: Number(state.done ?? 0),
    failed: Number(state.failed ?? 0),
    total: Number(state.total ?? 0),
    running: reports,
    hostsTotal: number(progress.hosts_total),
    hostsFinished: Number(progress.hosts_finished ?? 0),
    startedAt: number(progress.started_at),
    now,
  });
  return { ...view, running: reports };
}

/** HGETALL's reply from a Lua script: [field, value, field, value, ...]. */
function pairs(flat: Fields): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}
