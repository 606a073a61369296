// Publishes a scan's events: stamps each with the next per-scan `seq`, appends it to the bounded replay log and
// broadcasts it on the scan's channel, all in one Lua script so that seq order, log order and publish order agree.
import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import type { ScanEvent, ScanEventBody } from '@nso/contracts';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from './redis.module';

export const EVENT_LOG_OPTIONS = Symbol('EVENT_LOG_OPTIONS');

export interface EventLogOptions {
  /** How many of a scan's newest events the replay log keeps. */
  maxLength: number;
  /**
   * Idle time after which a scan's log expires (refreshed by every publish). The seq counter never expires: it
   * is one small key per scan, and a counter that restarted at 1 would make resuming clients skip events.
   */
  ttlSeconds: number;
}

export const DEFAULT_EVENT_LOG_OPTIONS: EventLogOptions = { maxLength: 10_000, ttlSeconds: 7 * 24 * 3600 };

/** Which run of which scan an event belongs to. */
export interface ScanEventRef {
  scanId: number;
  resultId: number;
}

const COMMAND = 'nsoPublishScanEvents';

/**
 * KEYS[1] seq counter, KEYS[2] log (sorted set scored by seq).
 * ARGV[1] channel, ARGV[2] maxLength, ARGV[3] ttlSeconds, ARGV[4..] one JSON object per event, without `seq`.
 * Every event is checked before the first INCR, because a script that fails halfway is not rolled back.
 * Returns the seq of the last event; the events got consecutive seqs ending there.
 */
const PUBLISH_LUA = `
local maxLength = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
if #ARGV < 4 then
  return redis.error_reply('ERR no scan event to publish')
end
for i = 4, #ARGV do
  local body = ARGV[i]
  if string.sub(body, 1, 1) ~= '{' or string.sub(body, 2, 2) == '}' then
    return redis.error_reply('ERR scan event ' .. (i - 3) .. ' is not a non-empty JSON object')
  end
end
local seq = 0
for i = 4, #ARGV do
  seq = redis.call('INCR', KEYS[1])
  local event = '{"seq":' .. string.format('%d', seq) .. ',' .. string.sub(ARGV[i], 2)
  redis.call('ZADD', KEYS[2], seq, event)
  redis.call('PUBLISH', ARGV[1], event)
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -maxLength - 1)
redis.call('EXPIRE', KEYS[2], ttl)
return seq
`;

type WithPublishCommand = Redis & {
  [COMMAND](
    seqKey: string,
    logKey: string,
    channel: string,
    maxLength: number,
    ttlSeconds: number,
    ...events: string[]
  ): Promise<number>;
};

/**
 * Ordering: calls made on one publisher (one connection) execute in call order even when nobody awaits them,
 * because each call writes its one EVAL/EVALSHA synchronously and ioredis keeps a connection's commands in order.
 * So nothing here may await before that write.
 */
@Injectable()
export class ScanEventPublisher {
  private readonly redis: WithPublishCommand;

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    @Inject(EVENT_LOG_OPTIONS) private readonly options: EventLogOptions,
  ) {
    assertEventLogOptions(options);
    // Defined up front: ioredis sends the first call on each socket as EVAL and the rest as EVALSHA, in order.
    redis.defineCommand(COMMAND, { numberOfKeys: 2, lua: PUBLISH_LUA });
    this.redis = redis as WithPublishCommand;
  }

  /** Publishes one event; resolves with it as subscribers receive it. */
  async publish(ref: ScanEventRef, body: ScanEventBody): Promise<ScanEvent> {
    const [event] = await this.publishMany(ref, [body]);
    return event;
  }

  /** Publishes several events of one run in one round trip; they get consecutive seqs, in array order. */
  publishMany(ref: ScanEventRef, bodies: readonly ScanEventBody[]): Promise<ScanEvent[]> {
    if (!Number.isSafeInteger(ref.scanId) || !Number.isSafeInteger(ref.resultId)) {
      return Promise.reject(new Error(`invalid scan event ref ${JSON.stringify(ref)}`));
    }
    if (bodies.length === 0) return Promise.resolve([]);
    const ts = new Date().toISOString();
    const payloads = bodies.map((body) => ({ ...body, scan_id: ref.scanId, result_id: ref.resultId, ts }));
    return this.redis[COMMAND](
      this.keys.scanSeq(ref.scanId),
      this.keys.scanLog(ref.scanId),
      this.keys.scanChannel(ref.scanId),
      this.options.maxLength,
      this.options.ttlSeconds,
      ...payloads.map((payload) => JSON.stringify(payload)),
    ).then((lastSeq) => {
      const firstSeq = Number(lastSeq) - payloads.length + 1;
      return payloads.map((payload, index) => ({ seq: firstSeq + index, ...payload }) as ScanEvent);
    });
  }
}

export function assertEventLogOptions(options: EventLogOptions): void {
  if (!Number.isSafeInteger(options.maxLength) || options.maxLength < 1) {
    throw new Error(`event log maxLength must be a positive integer, got ${options.maxLength}`);
  }
  if (!Number.isSafeInteger(options.ttlSeconds) || options.ttlSeconds < 1) {
    throw new Error(`event log ttlSeconds must be a positive integer, got ${options.ttlSeconds}`);
  }
}
