// The Redis side of every event stream (a scan's events, a notification topic): a seq counter, a bounded log (a
// sorted set scored by seq) and a pub/sub channel per topic. Appending is one Lua script, so that seq order, log
// order and publish order agree; reading takes the log and the counter at one instant (MULTI).
import Redis from 'ioredis';
import type { SequencedEvent } from '@nso/contracts';

/** The Redis names of one topic's stream. */
export interface EventLogNames {
  /** The seq counter (a string key). */
  seq: string;
  /** The log: a sorted set scored by seq. */
  log: string;
  /** The pub/sub channel. */
  channel: string;
  /**
   * A hash whose field `stopped` set to '1' refuses the call quietly (nothing logged or published, no seq taken):
   * a run's state, for its `line` events, so that none follows its `scan_stopped`. None: always appended.
   */
  gate?: string;
}

/** How much a topic's log keeps. */
export interface EventLogBounds {
  /** How many of the topic's newest events the log keeps. */
  maxLength: number;
  /** Idle time after which the log expires (refreshed by every append). The counter never expires. */
  ttlSeconds: number;
}

/**
 * A stream whose seqs may only move within a block reserved elsewhere first (scan events: the database). `limit`
 * holds the highest seq the counter may reach, `fence` is set while this publisher's appends are refused, and
 * `retry` lifts it (the first append sent again after a reservation).
 */
export interface SeqReservationNames {
  limit: string;
  fence: string;
  retry: boolean;
}

/** The logged events after a seq, and the topic's highest seq at the same instant. */
export interface EventLogSnapshot<T> {
  events: T[];
  lastSeq: number;
}

/** Error replies of the append script that a reservation answers: `NSOSEQ missing` (no counter), `NSOSEQ limit`. */
export const SEQ_REFUSAL = /^NSOSEQ (\w+)/;

/** How long a publisher's fence outlives a publisher that died while reserving. */
const FENCE_TTL_MS = 60_000;
const APPEND_COMMAND = 'nsoAppendEvents';

/**
 * KEYS[1] seq counter, KEYS[2] log, KEYS[3] seq limit, KEYS[4] this publisher's fence (both unused in mode '0'),
 * KEYS[5] the gate (EventLogNames.gate; KEYS[1] again when there is none). ARGV[1] channel, ARGV[2] maxLength, ARGV[3] ttlSeconds, ARGV[4] mode, ARGV[5] the seqs each entry takes, comma
 * separated ('' when each takes one), ARGV[6..] one JSON object per entry, without `seq`.
 * Mode '0': no limit. Mode '1': the counter must exist and stay within the limit, else the call is refused with
 * NSOSEQ and the publisher's fence is set, so every later call of the same publisher for this topic is refused too
 * until a retry (mode '2', which lifts the fence) goes through: calls are refused in order and retried in order.
 * Every entry is checked before the first INCR, because a script that fails halfway is not rolled back. Each entry
 * is logged (scored by its last seq) and published as `{"seq":<first>,` + the rest of its object; an entry taking
 * n seqs (a bulk entry, e.g. n lines) takes n consecutive ones, and its readers expand it. In modes '1'/'2' the log
 * is also trimmed by seq, so that it holds about maxLength events however many share an entry. Returns
 * {last seq, the limit} (limit 0 in mode '0'); the entries got consecutive seqs ending at the last seq. When the
 * gate's `stopped` is '1' (checked after the fence and the limit, so that refusals keep their order), nothing is
 * appended and it returns {0, the limit, 1}.
 */
const APPEND_LUA = `
local maxLength = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
if #ARGV < 6 then
  return redis.error_reply('ERR no event to append')
end
local counts = {}
local total = 0
if ARGV[5] == '' then
  total = #ARGV - 5
else
  for count in string.gmatch(ARGV[5], '%d+') do
    counts[#counts + 1] = tonumber(count)
    total = total + tonumber(count)
  end
  if #counts ~= #ARGV - 5 then
    return redis.error_reply('ERR ' .. #counts .. ' counts for ' .. (#ARGV - 5) .. ' events')
  end
end
for i = 6, #ARGV do
  local body = ARGV[i]
  if string.sub(body, 1, 1) ~= '{' or string.sub(body, 2, 2) == '}' then
    return redis.error_reply('ERR event ' .. (i - 5) .. ' is not a non-empty JSON object')
  end
  if (counts[i - 5] or 1) < 1 then
    return redis.error_reply('ERR event ' .. (i - 5) .. ' takes no seq')
  end
end
local limit = 0
if ARGV[4] ~= '0' then
  if ARGV[4] == '2' then
    redis.call('DEL', KEYS[4])
  elseif redis.call('EXISTS', KEYS[4]) == 1 then
    return redis.error_reply('NSOSEQ fenced')
  end
  local current = redis.call('GET', KEYS[1])
  limit = tonumber(redis.call('GET', KEYS[3]) or '0')
  if (not current) or tonumber(current) + total > limit then
    redis.call('SET', KEYS[4], '1', 'PX', ${FENCE_TTL_MS})
    if not current then
      return redis.error_reply('NSOSEQ missing')
    end
    return redis.error_reply('NSOSEQ limit')
  end
end
if KEYS[5] ~= KEYS[1] and redis.call('HGET', KEYS[5], 'stopped') == '1' then
  return { 0, limit, 1 }
end
local seq = 0
for i = 6, #ARGV do
  local count = counts[i - 5] or 1
  local first
  if count == 1 then
    seq = redis.call('INCR', KEYS[1])
    first = seq
  else
    seq = redis.call('INCRBY', KEYS[1], count)
    first = seq - count + 1
  end
  local event = '{"seq":' .. string.format('%d', first) .. ',' .. string.sub(ARGV[i], 2)
  redis.call('ZADD', KEYS[2], seq, event)
  redis.call('PUBLISH', ARGV[1], event)
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -maxLength - 1)
if ARGV[4] ~= '0' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', seq - maxLength)
end
redis.call('EXPIRE', KEYS[2], ttl)
return { seq, limit }
`;

type WithAppendCommand = Redis & {
  [APPEND_COMMAND](
    seqKey: string,
    logKey: string,
    limitKey: string,
    fenceKey: string,
    gateKey: string,
    channel: string,
    maxLength: number,
    ttlSeconds: number,
    mode: '0' | '1' | '2',
    counts: string,
    ...events: string[]
  ): Promise<[number, number] | [number, number, number]>;
};

/**
 * Appends to topics' logs over one connection. Calls execute in call order even when nobody awaits them: each
 * call writes its one EVAL/EVALSHA synchronously, and ioredis keeps a connection's commands in order.
 */
export class EventLogWriter {
  private readonly redis: WithAppendCommand;

  constructor(redis: Redis) {
    // Defined up front: ioredis sends the first call on each socket as EVAL and the rest as EVALSHA, in order.
    redis.defineCommand(APPEND_COMMAND, { numberOfKeys: 5, lua: APPEND_LUA });
    this.redis = redis as WithAppendCommand;
  }

  /**
   * Stamps each body (a JSON object's text, without `seq`) with the topic's next seq, logs it, trims the log to
   * `bounds` and publishes it, in array order. Resolves with the last seq. Rejects with the script's error: with
   * `reservation`, an error matching SEQ_REFUSAL means "reserve seqs, then retry".
   */
  append(
    names: EventLogNames,
    bounds: EventLogBounds,
    bodies: readonly string[],
    reservation?: SeqReservationNames,
  ): Promise<number> {
    return this.appendEntries(names, bounds, bodies, null, reservation).then((reply) => reply.lastSeq);
  }

  /**
   * As append, for entries that may take several seqs each (`counts[i]` for `bodies[i]`, all ≥ 1; null: one
   * each): a bulk entry is logged and published once, with its first seq, and its readers expand it. Resolves with
   * the last seq and, with `reservation`, the topic's seq limit at that instant (0 without); `gated` (and last
   * seq 0) when the names' gate refused the call (nothing was appended).
   */
  appendEntries(
    names: EventLogNames,
    bounds: EventLogBounds,
    bodies: readonly string[],
    counts: readonly number[] | null,
    reservation?: SeqReservationNames,
  ): Promise<{ lastSeq: number; limit: number; gated: boolean }> {
    return this.redis[APPEND_COMMAND](
      names.seq,
      names.log,
      reservation?.limit ?? names.seq,
      reservation?.fence ?? names.seq,
      names.gate ?? names.seq,
      names.channel,
      bounds.maxLength,
      bounds.ttlSeconds,
      reservation ? (reservation.retry ? '2' : '1') : '0',
      counts ? counts.join(',') : '',
      ...bodies,
    ).then(([lastSeq, limit, gated]) => ({
      lastSeq: Number(lastSeq),
      limit: Number(limit),
      gated: gated === 1,
    }));
  }
}

/**
 * Reads a topic's logged events with seq > afterSeq, oldest first, and its counter, at one instant (one MULTI).
 * Entries `parse` refuses are passed to `skipped` and left out; a bulk entry `parse` expands into several events
 * gives those above afterSeq. The log keeps only the newest events, so the first
 * one returned may be later than afterSeq + 1.
 */
export async function readEventLog<T extends SequencedEvent>(
  redis: Redis,
  names: Pick<EventLogNames, 'seq' | 'log'>,
  afterSeq: number,
  parse: (raw: string) => T | readonly T[] | null | undefined,
  skipped?: (raw: string) => void,
): Promise<EventLogSnapshot<T>> {
  const replies = await redis.multi().zrangebyscore(names.log, `(${afterSeq}`, '+inf').get(names.seq).exec();
  if (!replies) throw new Error(`reading the event log ${names.log} was aborted`);
  const [[logError, raw], [seqError, seq]] = replies;
  if (logError) throw logError;
  if (seqError) throw seqError;
  const events: T[] = [];
  for (const entry of raw as string[]) {
    const event = parse(entry);
    if (!event) skipped?.(entry);
    else if (!isList(event)) events.push(event);
    // A bulk entry is scored by its last seq: its earlier events may be at or below afterSeq.
    else for (const one of event) if (one.seq > afterSeq) events.push(one);
  }
  return { events, lastSeq: Number(seq ?? 0) };
}

function isList<T>(value: T | readonly T[]): value is readonly T[] {
  return Array.isArray(value);
}
