// Reads a scan's bounded replay log (what ScanEventPublisher appended), so a late or returning client can catch up.
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import Redis from 'ioredis';
import type { ScanEvent } from '@nso/contracts';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from './redis.module';
import { EVENT_LOG_OPTIONS, EventLogOptions, SCAN_LINES_ENTRY } from './scan-event-publisher';
import { EventLogSnapshot, readEventLog } from './stream/event-log';

/** The logged events after a seq, and the scan's highest seq at the same instant. */
export type ScanEventSnapshot = EventLogSnapshot<ScanEvent>;

@Injectable()
export class ScanEventLog {
  private readonly logger = new Logger(ScanEventLog.name);

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    @Optional() @Inject(EVENT_LOG_OPTIONS) private readonly options?: EventLogOptions,
  ) {}

  /**
   * Logged events with seq > afterSeq, oldest first. The log keeps only the newest events, so the first one
   * returned may be later than afterSeq + 1.
   */
  async readAfter(scanId: number, afterSeq: number, limit?: number): Promise<ScanEvent[]> {
    const key = this.keys.scanLog(scanId);
    const min = `(${afterSeq}`;
    const raw =
      limit === undefined
        ? await this.redis.zrangebyscore(key, min, '+inf')
        : // One more entry: the first may be a bulk entry whose events are mostly at or below afterSeq.
          await this.redis.zrangebyscore(key, min, '+inf', 'LIMIT', 0, limit + 1);
    const events = this.parseAll(raw).filter((event) => event.seq > afterSeq);
    return limit === undefined ? events : events.slice(0, limit);
  }

  /** The highest seq a scan has published (0 if none, or if its counter expired). */
  async lastSeq(scanId: number): Promise<number> {
    return Number((await this.redis.get(this.keys.scanSeq(scanId))) ?? 0);
  }

  /** Every logged event after afterSeq and the scan's last seq, read atomically (one MULTI). */
  async snapshotAfter(scanId: number, afterSeq: number): Promise<ScanEventSnapshot> {
    const snapshot = await readEventLog(
      this.redis,
      { log: this.keys.scanLog(scanId), seq: this.keys.scanSeq(scanId) },
      afterSeq,
      parseScanEvents,
      (entry) => this.logger.warn(`skipping a malformed event log entry: ${entry.slice(0, 200)}`),
    );
    // The log is trimmed by entry; a bulk entry straddling the bound still holds events older than the newest
    // maxLength: they are not replayed, so the bound counts events.
    const { events, lastSeq } = snapshot;
    if (!this.options || events.length === 0 || events[0].seq > lastSeq - this.options.maxLength) {
      return snapshot;
    }
    const oldest = lastSeq - this.options.maxLength;
    return { events: events.filter((event) => event.seq > oldest), lastSeq };
  }

  /** Deletes a scan's log and its seq counter (when the scan itself is deleted: seq starts again at 1). */
  async clear(scanId: number): Promise<void> {
    await this.redis.del(
      this.keys.scanLog(scanId),
      this.keys.scanSeq(scanId),
      this.keys.scanSeqLimit(scanId),
    );
  }

  private parseAll(raw: string[]): ScanEvent[] {
    const events: ScanEvent[] = [];
    for (const entry of raw) {
      const event = parseScanEvents(entry);
      if (Array.isArray(event)) events.push(...(event as ScanEvent[]));
      else if (event) events.push(event as ScanEvent);
      else this.logger.warn(`skipping a malformed event log entry: ${entry.slice(0, 200)}`);
    }
    return events;
  }
}

/** Parses an event as published on a scan channel or stored in its log; null if it is not one. */
export function parseScanEvent(raw: string): ScanEvent | null {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null) return null;
    const { seq, event } = value as { seq?: unknown; event?: unknown };
    if (!Number.isSafeInteger(seq) || (seq as number) < 1 || typeof event !== 'string') return null;
    return value as ScanEvent;
  } catch {
    return null;
  }
}

/**
 * A `line` event expanded from a bulk entry (parseScanEvents): a plain data object whose own fields are, in this
 * order, those of a `line` event published on its own (ScanEventPublisher: `seq` first, then `event`, `batch_id`,
 * `line`, `scan_id`, `result_id`, `ts`), so that JSON.stringify writes the same text for both. Its class lets
 * scanEventJson write that text by template: a /16 is about 400,000 of them, and the template costs half of
 * JSON.stringify's time (bench wide-subscribers, docs/performance.md).
 */
export class BulkLineEvent {
  readonly seq: number;
  readonly event = 'line' as const;
  readonly batch_id: number;
  readonly line: string;
  readonly scan_id: number;
  readonly result_id: number;
  readonly ts: string;

  constructor(seq: number, batchId: number, line: string, scanId: number, resultId: number, ts: string) {
    this.seq = seq;
    this.batch_id = batchId;
    this.line = line;
    this.scan_id = scanId;
    this.result_id = resultId;
    this.ts = ts;
  }
}

/**
 * `JSON.stringify(event)`: for a BulkLineEvent written by template (its fields are checked integers and strings
 * in a fixed order, so the text is the same), for any other event by JSON.stringify itself.
 */
export function scanEventJson(event: ScanEvent): string {
  if (!(event instanceof BulkLineEvent)) return JSON.stringify(event);
  return (
    `{"seq":${event.seq},"event":"line","batch_id":${event.batch_id},"line":${JSON.stringify(event.line)},` +
    `"scan_id":${event.scan_id},"result_id":${event.result_id},"ts":${JSON.stringify(event.ts)}}`
  );
}

/**
 * Parses a message of a scan channel or an entry of its log: one event, or the `line` events of a bulk entry
 * (SCAN_LINES_ENTRY: seqs `seq`, `seq` + 1, … in line order, each shaped exactly as a `line` event published on
 * its own: BulkLineEvents when the entry's fields have their published types); null if it is neither.
 */
export function parseScanEvents(raw: string): ScanEvent | ScanEvent[] | null {
  const event = parseScanEvent(raw);
  if (!event || (event.event as string) !== SCAN_LINES_ENTRY) return event;
  const bulk = event as unknown as {
    seq: number;
    batch_id: unknown;
    lines: unknown;
    scan_id: unknown;
    result_id: unknown;
    ts: unknown;
  };
  if (!Array.isArray(bulk.lines) || bulk.lines.length === 0) return null;
  const { seq, batch_id, scan_id, result_id, ts } = bulk;
  const lines = bulk.lines as unknown[];
  if (
    Number.isSafeInteger(batch_id) &&
    Number.isSafeInteger(scan_id) &&
    Number.isSafeInteger(result_id) &&
    typeof ts === 'string' &&
    lines.every((line) => typeof line === 'string')
  ) {
    const [b, s, r] = [batch_id as number, scan_id as number, result_id as number];
    return (lines as string[]).map(
      (line, index) => new BulkLineEvent(seq + index, b, line, s, r, ts) as unknown as ScanEvent,
    );
  }
  return lines.map(
    (line, index) =>
      ({ seq: seq + index, event: 'line', batch_id, line, scan_id, result_id, ts }) as unknown as ScanEvent,
  );
}
