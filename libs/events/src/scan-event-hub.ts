// The gateway side of the scan event stream: one Redis subscriber connection per process, fanned out to local
// listeners (WebSocket and SSE clients), each getting what it missed from the replay log and then live events, in
// seq order (EventStreamHub, the same primitive as the /api/stream notifications).
import { Inject, Injectable, OnModuleDestroy, Optional } from '@nestjs/common';
import Redis from 'ioredis';
import type { ScanEvent } from '@nso/contracts';
import { RedisOutageMonitor } from './redis-outage.monitor';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from './redis.module';
import { parseScanEvents, ScanEventLog } from './scan-event-log';
import {
  EventStreamHub,
  EventStreamListener,
  EventStreamSubscribeOptions,
  EventStreamSubscription,
} from './stream/event-stream-hub';

/**
 * Receives events in batches: never empty, seqs consecutive and increasing. The array and its events are shared
 * with the scan's other listeners in this process (and cached by the transports' encoders): never change them.
 */
export type ScanEventListener = EventStreamListener<ScanEvent>;

/**
 * The least time between two fan-outs of one scan's live events grows with the scan's local listeners, since a
 * fan-out costs a write per listener (about 8 µs on loopback, most of it the kernel's): FAN_OUT_MS_PER_LISTENER
 * each, at least FAN_OUT_INTERVAL_MIN_MS, at most FAN_OUT_INTERVAL_MAX_MS. The first event after a quiet spell goes
 * out at once (on the next turn of the event loop); a busy scan's events are gathered meanwhile. 300 listeners of a
 * scan streaming 2,000 lines a second get a write every 15 ms, not one per line (bench fanout); one listener of a
 * /16 whose worker publishes 5,000 stdout reads a second gets a write every 2 ms, not 5,000 (bench
 * wide-subscribers, docs/performance.md).
 */
export const FAN_OUT_MS_PER_LISTENER = 0.05;
/** See FAN_OUT_MS_PER_LISTENER. */
export const FAN_OUT_INTERVAL_MIN_MS = 2;
/** See FAN_OUT_MS_PER_LISTENER. */
export const FAN_OUT_INTERVAL_MAX_MS = 25;

export interface ScanEventSubscribeOptions extends EventStreamSubscribeOptions {
  /** Start after this seq (a client's `since`); default 0: everything the log still holds. */
  afterSeq?: number;
}

export type ScanEventSubscription = EventStreamSubscription;

/** The scan event stream of this gateway: topics are scan ids. Guarantees as EventStreamHub's. */
@Injectable()
export class ScanEventHub implements OnModuleDestroy {
  private readonly hub: EventStreamHub<ScanEvent, number>;

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    @Inject(REDIS_KEYS) keys: RedisKeys,
    log: ScanEventLog,
    @Optional() monitor?: RedisOutageMonitor,
  ) {
    this.hub = new EventStreamHub<ScanEvent, number>(
      redis,
      {
        name: 'scan-events',
        channel: (scanId) => keys.scanChannel(scanId),
        readLog: (scanId, afterSeq) => log.snapshotAfter(scanId, afterSeq),
        parse: parseScanEvents,
        fanOutIntervalMs: (listeners) =>
          Math.min(
            FAN_OUT_INTERVAL_MAX_MS,
            Math.max(FAN_OUT_INTERVAL_MIN_MS, listeners * FAN_OUT_MS_PER_LISTENER),
          ),
        // Seqs are reserved in the database: a counter lost with Redis continues above every seq handed out.
        counterMayRestart: false,
      },
      monitor,
    );
  }

  /**
   * Delivers every logged event of the scan with seq > afterSeq, then live events, to the listener. Events
   * already delivered when this resolves are the replay. Rejects for an id or seq that is not a safe integer.
   */
  subscribe(
    scanId: number,
    options: ScanEventSubscribeOptions,
    listener: ScanEventListener,
  ): Promise<ScanEventSubscription> {
    if (!Number.isSafeInteger(scanId)) {
      return Promise.reject(new Error(`invalid scan event subscription: scan ${scanId}`));
    }
    return this.hub.subscribe(scanId, { ...options, afterSeq: options.afterSeq ?? 0 }, listener);
  }

  /** How many local listeners this process has for a scan. */
  listenerCount(scanId: number): number {
    return this.hub.listenerCount(scanId);
  }

  onModuleDestroy(): void {
    this.hub.close();
  }
}
