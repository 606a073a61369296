// Reads a scan's bounded replay log (what ScanEventPublisher appended), so a late or returning client can catch up.
import { Inject, Injectable, Logger } from '@nestjs/common';
import Redis from 'ioredis';
import type { ScanEvent } from '@nso/contracts';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from './redis.module';
import { EventLogSnapshot, readEventLog } from './stream/event-log';

/** The logged events after a seq, and the scan's highest seq at the same instant. */
export type ScanEventSnapshot = EventLogSnapshot<ScanEvent>;

@Injectable()
export class ScanEventLog {
  private readonly logger = new Logger(ScanEventLog.name);

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
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
        : await this.redis.zrangebyscore(key, min, '+inf', 'LIMIT', 0, limit);
    return this.parseAll(raw);
  }

  /** The highest seq a scan has published (0 if none, or if its counter expired). */
  async lastSeq(scanId: number): Promise<number> {
    return Number((await this.redis.get(this.keys.scanSeq(scanId))) ?? 0);
  }

  /** Every logged event after afterSeq and the scan's last seq, read atomically (one MULTI). */
  snapshotAfter(scanId: number, afterSeq: number): Promise<ScanEventSnapshot> {
    return readEventLog(
      this.redis,
      { log: this.keys.scanLog(scanId), seq: this.keys.scanSeq(scanId) },
      afterSeq,
      parseScanEvent,
      (entry) => this.logger.warn(`skipping a malformed event log entry: ${entry.slice(0, 200)}`),
    );
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
      const event = parseScanEvent(entry);
      if (event) events.push(event);
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
