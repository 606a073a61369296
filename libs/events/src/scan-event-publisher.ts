// Publishes a scan's events: stamps each with the next per-scan `seq`, appends it to the bounded replay log and
// broadcasts it on the scan's channel, all in one Lua script so that seq order, log order and publish order agree;
// and keeps seqs within blocks reserved in the database, so that they never go back.
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import Redis from 'ioredis';
import type { ScanEvent, ScanEventBody } from '@nso/contracts';
import { Metrics } from '@nso/monitoring';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from './redis.module';
import { EventLogBounds, EventLogWriter, SEQ_REFUSAL } from './stream/event-log';

export const EVENT_LOG_OPTIONS = Symbol('EVENT_LOG_OPTIONS');

/**
 * The event name of a bulk entry in a scan's log and channel: the lines of one nmap stdout read, each with its own
 * seq (`seq` is the first). Internal: readers expand it into one `line` event per line before anyone sees it.
 */
export const SCAN_LINES_ENTRY = 'lines';

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
 * Where a scan's seqs are reserved durably (the database: ScanRepository.reserveEventSeqs). `reserve`
 * returns a block (after, upTo]: every seq up to `after` may already have been handed out by someone.
 */
export interface ScanSeqReservations {
  reserve(scanId: number, count: number): Promise<{ after: number; upTo: number }>;
}
export const SCAN_SEQ_RESERVATIONS = Symbol('SCAN_SEQ_RESERVATIONS');

/** Seqs reserved at a time at first: one database update per this many events of a scan (and one at its first). */
export const SEQ_BLOCK = 1_000;
/**
 * The largest block: a scan whose blocks run out within SEQ_BLOCK_GROW_MS of each other gets blocks four times as
 * large, up to this. Seqs of a block a publisher could not use are skipped (a jump in seq, as after a Redis loss).
 */
export const SEQ_BLOCK_MAX = 256_000;
/** See SEQ_BLOCK_MAX. */
export const SEQ_BLOCK_GROW_MS = 5_000;
/** Scans whose block size a publisher remembers (the oldest is forgotten first: it starts again at SEQ_BLOCK). */
const BLOCK_SIZES_KEPT = 10_000;
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

/** One publish call: its entries (JSON, without seq), the seqs they take, and how to answer it. */
interface Send {
  ref: ScanEventRef;
  bodies: string[];
  /** Seqs each entry takes; null: one each. */
  counts: number[] | null;
  /** Seqs the call takes in all. */
  total: number;
  /** `line` events: refused quietly once their run is stopped (EventLogNames.gate: the run's state). */
  gated?: boolean;
  /** Called with the last seq the call got. */
  resolve(lastSeq: number): void;
  reject(error: Error): void;
}

/** How a publisher sizes a scan's seq blocks: grown when they run out fast. */
interface BlockSizing {
  size: number;
  /** When the last block was reserved (performance.now(), ms). */
  at: number;
  /** A block is being reserved ahead of need. */
  refilling: boolean;
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
 * Refusals are the exception: every append answers with the scan's limit, and once less than half a block is
 * left the next block is reserved in the background (sized by demand, BlockSizing), so a busy scan's publishes
 * are not refused for a refill.
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
  private readonly blocks = new Map<number, BlockSizing>();
  private readonly logger = new Logger(ScanEventPublisher.name);

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
    if (!validRef(ref)) return Promise.reject(new Error(`invalid scan event ref ${JSON.stringify(ref)}`));
    if (bodies.length === 0) return Promise.resolve([]);
    const ts = new Date().toISOString();
    const payloads = bodies.map((body) => ({ ...body, scan_id: ref.scanId, result_id: ref.resultId, ts }));
    return new Promise<ScanEvent[]>((resolve, reject) => {
      this.enqueue({
        ref,
        bodies: payloads.map((payload) => JSON.stringify(payload)),
        counts: null,
        total: payloads.length,
        resolve: (lastSeq) => {
          const firstSeq = lastSeq - payloads.length + 1;
          resolve(payloads.map((payload, index) => ({ seq: firstSeq + index, ...payload }) as ScanEvent));
        },
        reject,
      });
    });
  }

  /**
   * Publishes lines of a batch's nmap output as `line` events, in one entry (one round trip, one log entry, one
   * channel message): each line gets its own seq, consecutive in array order, and subscribers receive one `line`
   * event per line, exactly as if each had been published alone (ScanEventLog expands the entry). Once the run is
   * stopped (its state's `stopped` flag, set before `scan_stopped` is published) lines are dropped, so that none
   * follows `scan_stopped`: nmap's output read before the stop reached the worker but published after it. Resolves
   * with the last line's seq (0 for no lines, or when they were dropped).
   */
  publishLines(ref: ScanEventRef, batchId: number, lines: readonly string[]): Promise<number> {
    if (!validRef(ref)) return Promise.reject(new Error(`invalid scan event ref ${JSON.stringify(ref)}`));
    if (lines.length === 0) return Promise.resolve(0);
    const ts = new Date().toISOString();
    const { scanId: scan_id, resultId: result_id } = ref;
    const body =
      lines.length === 1
        ? JSON.stringify({ event: 'line', batch_id: batchId, line: lines[0], scan_id, result_id, ts })
        : JSON.stringify({ event: SCAN_LINES_ENTRY, batch_id: batchId, lines, scan_id, result_id, ts });
    return new Promise<number>((resolve, reject) => {
      this.enqueue({
        ref,
        bodies: [body],
        counts: lines.length === 1 ? null : [lines.length],
        total: lines.length,
        gated: true,
        resolve,
        reject,
      });
    });
  }

  private enqueue(send: Send): void {
    const reservation = this.reserving.get(send.ref.scanId);
    // Calls still unanswered will be refused (the fence), and go first; this one waits behind them.
    if (reservation) reservation.held.push(send);
    else this.send(send, '1');
  }

  private send(send: Send, mode: '1' | '2'): void {
    const { scanId } = send.ref;
    this.unanswered.set(scanId, (this.unanswered.get(scanId) ?? 0) + 1);
    this.writer
      .appendEntries(
        {
          seq: this.keys.scanSeq(scanId),
          log: this.keys.scanLog(scanId),
          channel: this.keys.scanChannel(scanId),
          ...(send.gated ? { gate: this.keys.runState(send.ref.resultId) } : {}),
        },
        this.options,
        send.bodies,
        send.counts,
        this.reservations
          ? {
              limit: this.keys.scanSeqLimit(scanId),
              fence: this.keys.scanSeqFence(scanId, this.id),
              retry: mode === '2',
            }
          : undefined,
      )
      .then(
        ({ lastSeq, limit, gated }) => {
          this.answered(scanId);
          if (!gated) this.metrics?.scanEventsPublished.inc(send.total);
          if (this.reservations) this.refillIfLow(scanId, limit - lastSeq);
          send.resolve(lastSeq);
        },
        (error: Error) => {
          const refusal = SEQ_REFUSAL.exec(error.message)?.[1];
          if (refusal) this.refused(send, refusal);
          else send.reject(error);
          this.answered(scanId);
        },
      );
  }

  /** The size of the scan's next block, grown when the last one was reserved a short while ago. */
  private nextBlockSize(scanId: number): number {
    const now = performance.now();
    let sizing = this.blocks.get(scanId);
    if (!sizing) {
      if (this.blocks.size >= BLOCK_SIZES_KEPT) this.blocks.delete(this.blocks.keys().next().value as number);
      sizing = { size: SEQ_BLOCK, at: now, refilling: false };
      this.blocks.set(scanId, sizing);
    } else if (now - sizing.at < SEQ_BLOCK_GROW_MS) {
      sizing.size = Math.min(SEQ_BLOCK_MAX, sizing.size * 4);
    }
    sizing.at = now;
    return sizing.size;
  }

  /**
   * Reserves the scan's next block in the background once fewer than half a block of seqs is left below the
   * limit, and raises the limit (never seeds a missing counter: that is the refusal's job). A failure is only
   * logged: the refusal path reserves again when the block does run out.
   */
  private refillIfLow(scanId: number, left: number): void {
    const sizing = this.blocks.get(scanId);
    if (sizing?.refilling || left >= (sizing?.size ?? SEQ_BLOCK) / 2) return;
    const size = this.nextBlockSize(scanId);
    const refilling = this.blocks.get(scanId)!;
    refilling.refilling = true;
    this.reservations!.reserve(scanId, size)
      .then((block) =>
        this.redis[RESERVE_COMMAND](
          this.keys.scanSeq(scanId),
          this.keys.scanSeqLimit(scanId),
          block.after,
          block.upTo,
          '0',
        ),
      )
      .catch((error: Error) =>
        this.logger.warn(`reserving event seqs of scan ${scanId} ahead failed: ${error.message}`),
      )
      .finally(() => {
        refilling.refilling = false;
      });
  }

  /** Replies come in send order, so refusals are collected in call order. */
  private refused(send: Send, why: string): void {
    const { scanId } = send.ref;
    let reservation = this.reserving.get(scanId);
    if (!reservation) {
      // Only a block reserved after the counter was seen missing may seed it (see RESERVE_LUA); a later refusal
      // saying 'missing' in the same round leads to another round.
      const seed = why === 'missing';
      reservation = { refused: [], held: [], seed, count: send.total, reserved: false };
      this.reserving.set(scanId, reservation);
      this.reserve(scanId, reservation);
    }
    reservation.refused.push(send);
  }

  private reserve(scanId: number, reservation: Reservation): void {
    const reservations = this.reservations!;
    reservations
      .reserve(scanId, Math.max(this.nextBlockSize(scanId), reservation.count))
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

function validRef(ref: ScanEventRef): boolean {
  return Number.isSafeInteger(ref.scanId) && Number.isSafeInteger(ref.resultId);
}

export function assertEventLogOptions(options: EventLogOptions): void {
  if (!Number.isSafeInteger(options.maxLength) || options.maxLength < 1) {
    throw new Error(`event log maxLength must be a positive integer, got ${options.maxLength}`);
  }
  if (!Number.isSafeInteger(options.ttlSeconds) || options.ttlSeconds < 1) {
    throw new Error(`event log ttlSeconds must be a positive integer, got ${options.ttlSeconds}`);
  }
}
