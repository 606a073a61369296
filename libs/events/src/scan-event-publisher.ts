// Publishes a scan's events: stamps each with the next per-scan `seq`, appends it to the bounded replay log and
// broadcasts it on the scan's channel, all in one Lua script so that seq order, log order and publish order agree;
// and keeps seqs within blocks reserved in the database, so that they never go back.
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import Redis from 'ioredis';
import type { ScanEvent, ScanEventBody } from '@nso/contracts';
import { Metrics } from '@nso/monitoring';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from './redis.module';
import { EventLogBounds, EventLogWriter, SEQ_REFUSAL } from './stream/event-log';

export const EVENT_LOG_OPTIONS = Symbol('EVENT_LOG_OPTIONS');

/**
 * How much a scan's replay log keeps: its newest `maxLength` events, for `ttlSeconds` of idle time (refreshed by
 * every publish). The seq counter never expires: it is one small key per scan, and a counter that restarted at 1
 * would make resuming clients skip events.
 */
export type EventLogOptions = EventLogBounds;

export const DEFAULT_EVENT_LOG_OPTIONS: EventLogOptions = { maxLength: 10_000, ttlSeconds: 7 * 24 * 3600 };

/** Which run of which scan an event belongs to. */
export interface ScanEventRef {
  scanId: number;
  resultId: number;
}

/**
 * Where a scan's seqs are reserved durably (the database, see @nso/persistence scan-event-seqs.ts). `reserve`
 * returns a block (after, upTo]: every seq up to `after` may already have been handed out by someone.
 */
export interface ScanSeqReservations {
  reserve(scanId: number, count: number): Promise<{ after: number; upTo: number }>;
}
export const SCAN_SEQ_RESERVATIONS = Symbol('SCAN_SEQ_RESERVATIONS');

/** Seqs reserved at a time: one database update per this many events of a scan (and one at its first event). */
export const SEQ_BLOCK = 1_000;
const RESERVE_COMMAND = 'nsoReserveScanSeqs';

/**
 * KEYS[1] seq counter, KEYS[2] seq limit. ARGV[1] after, ARGV[2] upTo, ARGV[3] '1' when the counter may be seeded.
 * Applies a reserved block: raises the limit to upTo, and creates a missing counter at `after` — but only for a
 * block reserved after the counter was seen missing ('1'): an older block's `after` may lie below seqs handed out
 * since. Returns 1 when applied, 0 when the counter is missing and may not be seeded.
 */
const RESERVE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[3] ~= '1' then
    return 0
  end
  redis.call('SET', KEYS[1], ARGV[1])
end
local limit = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) > limit then
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
`;

type WithReserveCommand = Redis & {
  [RESERVE_COMMAND](
    seqKey: string,
    limitKey: string,
    after: number,
    upTo: number,
    seed: '0' | '1',
  ): Promise<number>;
};

/** One publish call: its events, and how to answer it. */
interface Send {
  ref: ScanEventRef;
  payloads: Array<Record<string, unknown>>;
  resolve(events: ScanEvent[]): void;
  reject(error: Error): void;
}

/** A scan whose seqs are being reserved: calls refused meanwhile (in order), and calls held back (in order). */
interface Reservation {
  refused: Send[];
  held: Send[];
  /** The refusal that started this reservation said the counter is missing: the block may seed it. */
  seed: boolean;
  /** Seqs the first refused call needs at least. */
  count: number;
  reserved: boolean;
}

/**
 * Stamps each event with the next per-scan `seq`, appends it to the bounded replay log and broadcasts it on the
 * scan's channel (EventLogWriter, the same script as the /api/stream notifications).
 *
 * Ordering: calls made on one publisher (one connection) execute in call order even when nobody awaits them,
 * because each call writes its one EVAL/EVALSHA synchronously (EventLogWriter) and ioredis keeps a connection's
 * commands in order. So nothing here may await before that write.
 *
 * Seqs never go backwards, even when Redis loses the counter (restarted empty, FLUSHALL): with durable
 * reservations (SCAN_SEQ_RESERVATIONS, provided in every app) the counter may only move within a block reserved in
 * the database first. A call refused because the block is used up, or because the counter is gone, reserves the
 * next block (seeding a missing counter at the highest seq ever reserved) and is sent again; the fence in the
 * script refuses this publisher's later calls for the scan meanwhile, so they are all retried in call order.
 */
@Injectable()
export class ScanEventPublisher {
  private readonly redis: WithReserveCommand;
  private readonly writer: EventLogWriter;
  /** Names this publisher's fence keys. */
  private readonly id = randomBytes(6).toString('hex');
  private readonly reserving = new Map<number, Reservation>();
  /** Calls sent and not yet answered, per scan. */
  private readonly unanswered = new Map<number, number>();

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    @Inject(EVENT_LOG_OPTIONS) private readonly options: EventLogOptions,
    @Optional() @Inject(SCAN_SEQ_RESERVATIONS) private readonly reservations?: ScanSeqReservations,
    @Optional() private readonly metrics?: Metrics,
  ) {
    assertEventLogOptions(options);
    this.writer = new EventLogWriter(redis);
    redis.defineCommand(RESERVE_COMMAND, { numberOfKeys: 2, lua: RESERVE_LUA });
    this.redis = redis as WithReserveCommand;
  }

  /**
   * Gives a scan without a seq counter its first reserved block and the counter, before any event is published.
   * Called when a run starts (one process, before its batches are queued): two workers publishing a new scan's
   * first events at once would otherwise each reserve a block, and the scan's seqs could begin at the second.
   */
  async ensureCounter(scanId: number): Promise<void> {
    if (!this.reservations) return;
    if ((await this.redis.exists(this.keys.scanSeq(scanId))) === 1) return;
    const block = await this.reservations.reserve(scanId, SEQ_BLOCK);
    // Seeds the counter at `after` only if it is still missing; otherwise only raises the limit.
    await this.redis[RESERVE_COMMAND](
      this.keys.scanSeq(scanId),
      this.keys.scanSeqLimit(scanId),
      block.after,
      block.upTo,
      '1',
    );
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
    return new Promise<ScanEvent[]>((resolve, reject) => {
      const send: Send = { ref, payloads, resolve, reject };
      const reservation = this.reserving.get(ref.scanId);
      // Calls still unanswered will be refused (the fence), and go first; this one waits behind them.
      if (reservation) reservation.held.push(send);
      else this.send(send, '1');
    });
  }

  private send(send: Send, mode: '1' | '2'): void {
    const { scanId } = send.ref;
    this.unanswered.set(scanId, (this.unanswered.get(scanId) ?? 0) + 1);
    this.writer
      .append(
        {
          seq: this.keys.scanSeq(scanId),
          log: this.keys.scanLog(scanId),
          channel: this.keys.scanChannel(scanId),
        },
        this.options,
        send.payloads.map((payload) => JSON.stringify(payload)),
        this.reservations
          ? {
              limit: this.keys.scanSeqLimit(scanId),
              fence: this.keys.scanSeqFence(scanId, this.id),
              retry: mode === '2',
            }
          : undefined,
      )
      .then(
        (lastSeq) => {
          this.answered(scanId);
          this.metrics?.scanEventsPublished.inc(send.payloads.length);
          const firstSeq = Number(lastSeq) - send.payloads.length + 1;
          send.resolve(
            send.payloads.map((payload, index) => ({ seq: firstSeq + index, ...payload }) as ScanEvent),
          );
        },
        (error: Error) => {
          const refusal = SEQ_REFUSAL.exec(error.message)?.[1];
          if (refusal) this.refused(send, refusal);
          else send.reject(error);
          this.answered(scanId);
        },
      );
  }

  /** Replies come in send order, so refusals are collected in call order. */
  private refused(send: Send, why: string): void {
    const { scanId } = send.ref;
    let reservation = this.reserving.get(scanId);
    if (!reservation) {
      // Only a block reserved after the counter was seen missing may seed it (see RESERVE_LUA); a later refusal
      // saying 'missing' in the same round leads to another round.
      const seed = why === 'missing';
      reservation = { refused: [], held: [], seed, count: send.payloads.length, reserved: false };
      this.reserving.set(scanId, reservation);
      this.reserve(scanId, reservation);
    }
    reservation.refused.push(send);
  }

  private reserve(scanId: number, reservation: Reservation): void {
    const reservations = this.reservations!;
    reservations
      .reserve(scanId, Math.max(SEQ_BLOCK, reservation.count))
      .then((block) =>
        this.redis[RESERVE_COMMAND](
          this.keys.scanSeq(scanId),
          this.keys.scanSeqLimit(scanId),
          block.after,
          block.upTo,
          reservation.seed ? '1' : '0',
        ),
      )
      .then(
        () => {
          // Not applied (the counter vanished meanwhile): the retry is refused as 'missing' and reserves again.
          reservation.reserved = true;
          this.flush(scanId);
        },
        (error: Error) => {
          this.reserving.delete(scanId);
          const failure = new Error(`reserving event seqs of scan ${scanId} failed: ${error.message}`);
          for (const send of [...reservation.refused, ...reservation.held]) send.reject(failure);
        },
      );
  }

  private answered(scanId: number): void {
    const left = (this.unanswered.get(scanId) ?? 1) - 1;
    if (left > 0) this.unanswered.set(scanId, left);
    else this.unanswered.delete(scanId);
    this.flush(scanId);
  }

  /** Once the block is in place and every refusal is in, sends everything again in call order. */
  private flush(scanId: number): void {
    const reservation = this.reserving.get(scanId);
    if (!reservation?.reserved || this.unanswered.has(scanId)) return;
    this.reserving.delete(scanId);
    [...reservation.refused, ...reservation.held].forEach((send, index) =>
      this.send(send, index === 0 ? '2' : '1'),
    );
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
