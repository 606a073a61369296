// The gateway side of the event stream: one Redis subscriber connection per process, fanned out to local listeners
// (WebSocket and SSE clients), each getting what it missed from the replay log and then live events, in seq order.
//
// Live events reach listeners in batches: what arrived for a scan since its last fan-out, with fan-outs spaced by
// the scan's listener count (FAN_OUT_MS_PER_LISTENER). Every live listener gets the same array, so a transport encodes a batch once for all of
// them and writes it to each client in one write (bench fanout, docs/performance.md).
import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import Redis from 'ioredis';
import type { ScanEvent } from '@nso/contracts';
import { RedisOutageMonitor } from './redis-outage.monitor';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from './redis.module';
import { parseScanEvent, ScanEventLog, ScanEventSnapshot } from './scan-event-log';

const SUBSCRIBER_NAME = 'scan event subscriber';

/**
 * Receives events in batches: never empty, seqs consecutive and increasing. The array and its events are shared
 * with the scan's other listeners in this process (and cached by the transports' encoders): never change them.
 */
export type ScanEventListener = (events: readonly ScanEvent[]) => void;

/**
 * The least time between two fan-outs of one scan's live events grows with the scan's local listeners, since a
 * fan-out costs a write per listener (about 8 µs on loopback, most of it the kernel's): FAN_OUT_MS_PER_LISTENER
 * each, at most FAN_OUT_INTERVAL_MAX_MS. The first event after a quiet spell goes out at once (on the next turn of
 * the event loop); a busy scan's events are gathered meanwhile. One listener waits for nothing; 300 listeners of a
 * scan streaming 2,000 lines a second get a write every 15 ms, not one per line (bench fanout,
 * docs/performance.md).
 */
export const FAN_OUT_MS_PER_LISTENER = 0.05;
/** See FAN_OUT_MS_PER_LISTENER. */
export const FAN_OUT_INTERVAL_MAX_MS = 25;

export interface ScanEventSubscribeOptions {
  /** Start after this seq (a client's `since`); default 0: everything the log still holds. */
  afterSeq?: number;
  /**
   * Called once, before the first event reaches the listener, with the scan's highest seq when the log was read
   * (what `ConnectedEvent.last_seq` reports). Lets a transport send its greeting ahead of the replay.
   */
  onStart?: (lastSeq: number) => void;
}

export interface ScanEventSubscription {
  /** The scan's highest seq when this subscription read the log (0 if the scan has published nothing). */
  readonly lastSeqAtStart: number;
  /** Stops delivery; unsubscribes the channel when this was the process's last listener for the scan. Idempotent. */
  close(): void;
}

interface ListenerState {
  readonly scanId: number;
  readonly channel: string;
  readonly listener: ScanEventListener;
  readonly onStart?: (lastSeq: number) => void;
  /** Highest seq delivered so far (starts at afterSeq); anything at or below it is a duplicate. */
  lastSeq: number;
  /** Live events held back while the log is being read; null once the listener is live. */
  buffer: ScanEvent[] | null;
  /** The channel's SUBSCRIBE is confirmed, so the log may be read without a gap. */
  subscribed: boolean;
  started: boolean;
  lastSeqAtStart: number;
  catchingUp: boolean;
  /** Another log read is needed once the current one has been applied. */
  again: boolean;
  closed: boolean;
}

interface Channel {
  readonly name: string;
  readonly listeners: Set<ListenerState>;
  /** Resolves once Redis has confirmed the SUBSCRIBE. */
  readonly subscribed: Promise<unknown>;
  /** Live events received since the last fan-out, in arrival order. */
  pending: ScanEvent[];
  /** A fan-out is scheduled. */
  scheduled: boolean;
  /** When the last fan-out ran (performance.now(), ms). */
  lastFanOutAt: number;
}

/**
 * Delivery guarantee per listener: events in strictly increasing seq order, none twice. Gaps are only those the
 * log cannot fill: events trimmed from (or expired with) the log before they could be read.
 *
 * Because every seq is published exactly once, a live event with seq > last delivered + 1 means messages were
 * lost (e.g. the subscriber connection dropped); the listener then buffers and reads the log again. After the
 * subscriber reconnects, every listener catches up from the log too, so a lost terminal event is not waited for
 * forever.
 */
@Injectable()
export class ScanEventHub implements OnModuleDestroy {
  private readonly logger = new Logger(ScanEventHub.name);
  private readonly channels = new Map<string, Channel>();
  private subscriber?: Redis;
  private destroyed = false;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    private readonly log: ScanEventLog,
    @Optional() private readonly monitor?: RedisOutageMonitor,
  ) {}

  /**
   * Delivers every logged event with seq > afterSeq, then live events, to the listener. Events already delivered
   * when this resolves are the replay; the listener must not throw (errors are logged) and must not mutate the
   * event, which is shared with other listeners.
   */
  async subscribe(
    scanId: number,
    options: ScanEventSubscribeOptions,
    listener: ScanEventListener,
  ): Promise<ScanEventSubscription> {
    const afterSeq = options.afterSeq ?? 0;
    if (!Number.isSafeInteger(scanId) || !Number.isSafeInteger(afterSeq) || afterSeq < 0) {
      throw new Error(`invalid scan event subscription: scan ${scanId} after ${afterSeq}`);
    }
    if (this.destroyed) throw new Error('ScanEventHub is shut down');
    const state: ListenerState = {
      scanId,
      channel: this.keys.scanChannel(scanId),
      listener,
      onStart: options.onStart,
      lastSeq: afterSeq,
      buffer: [],
      subscribed: false,
      started: false,
      lastSeqAtStart: 0,
      catchingUp: false,
      again: false,
      closed: false,
    };
    const channel = this.join(state);
    try {
      // Live events buffer from here on; the log is read only once the SUBSCRIBE is confirmed, so no event can
      // fall between the two.
      await channel.subscribed;
      state.subscribed = true;
      await this.catchUp(state);
    } catch (error) {
      this.leave(state);
      throw error;
    }
    return { lastSeqAtStart: state.lastSeqAtStart, close: () => this.leave(state) };
  }

  /** How many local listeners this process has for a scan. */
  listenerCount(scanId: number): number {
    return this.channels.get(this.keys.scanChannel(scanId))?.listeners.size ?? 0;
  }

  onModuleDestroy(): void {
    this.destroyed = true;
    for (const channel of this.channels.values()) {
      for (const state of channel.listeners) {
        state.closed = true;
        state.buffer = null;
      }
    }
    this.channels.clear();
    // Nothing to flush on a subscriber connection, and QUIT could wait for a reconnect.
    this.monitor?.unwatchClient(SUBSCRIBER_NAME);
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  private join(state: ListenerState): Channel {
    let channel = this.channels.get(state.channel);
    if (!channel) {
      const created: Channel = {
        name: state.channel,
        listeners: new Set(),
        subscribed: this.getSubscriber().subscribe(state.channel),
        pending: [],
        scheduled: false,
        lastFanOutAt: -Infinity,
      };
      created.subscribed.catch(() => {
        if (this.channels.get(state.channel) === created) this.channels.delete(state.channel);
      });
      this.channels.set(state.channel, created);
      channel = created;
    }
    channel.listeners.add(state);
    return channel;
  }

  private leave(state: ListenerState): void {
    if (state.closed) return;
    state.closed = true;
    state.buffer = null;
    const channel = this.channels.get(state.channel);
    if (!channel?.listeners.delete(state) || channel.listeners.size > 0) return;
    this.channels.delete(state.channel);
    // Commands on one connection run in order, so a SUBSCRIBE issued later for the same scan still wins.
    this.subscriber?.unsubscribe(state.channel).catch((error: Error) => {
      this.logger.warn(`unsubscribing ${state.channel} failed: ${error.message}`);
    });
  }

  private getSubscriber(): Redis {
    if (this.subscriber) return this.subscriber;
    const subscriber = this.redis.duplicate({ connectionName: 'nso-scan-events' });
    let readyBefore = false;
    subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    if (this.monitor) this.monitor.watchClient(SUBSCRIBER_NAME, subscriber);
    else
      subscriber.on('error', (error: Error) => this.logger.warn(`scan event subscriber: ${error.message}`));
    subscriber.on('ready', () => {
      if (readyBefore) void this.resyncAfterReconnect(subscriber);
      readyBefore = true;
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  private onMessage(channelName: string, message: string): void {
    const channel = this.channels.get(channelName);
    if (!channel) return;
    const event = parseScanEvent(message);
    if (!event) {
      this.logger.warn(`ignoring a malformed message on ${channelName}: ${message.slice(0, 200)}`);
      return;
    }
    channel.pending.push(event);
    if (channel.scheduled) return;
    channel.scheduled = true;
    const interval = Math.min(FAN_OUT_INTERVAL_MAX_MS, channel.listeners.size * FAN_OUT_MS_PER_LISTENER);
    const wait = channel.lastFanOutAt + interval - performance.now();
    if (wait <= 0) setImmediate(() => this.fanOut(channel));
    else setTimeout(() => this.fanOut(channel), wait).unref();
  }

  /** Hands the channel's pending events to every listener: live ones get the same array. */
  private fanOut(channel: Channel): void {
    channel.scheduled = false;
    channel.lastFanOutAt = performance.now();
    const batch = channel.pending;
    channel.pending = [];
    if (batch.length === 0 || this.channels.get(channel.name) !== channel) return;
    const consecutive = batch.every((event, index) => index === 0 || event.seq === batch[index - 1].seq + 1);
    for (const state of channel.listeners) {
      if (state.buffer) {
        for (const event of batch) state.buffer.push(event);
      } else if (consecutive && batch[0].seq === state.lastSeq + 1) {
        this.deliver(state, batch);
      } else {
        this.offerOneByOne(state, batch);
      }
    }
  }

  /**
   * A batch that does not simply follow the listener's last seq: duplicates are skipped; at the first gap the
   * rest is buffered and the log is read, since the missing seqs were published but their messages lost.
   */
  private offerOneByOne(state: ListenerState, batch: readonly ScanEvent[]): void {
    const { next, gapAt } = inOrder(batch, state.lastSeq, -Infinity);
    this.deliver(state, next);
    if (gapAt === undefined) return;
    state.buffer = batch.slice(gapAt);
    this.catchUpInBackground(state);
  }

  /** Messages published while the subscriber was away are lost; the log has them. */
  private async resyncAfterReconnect(subscriber: Redis): Promise<void> {
    const names = [...this.channels.keys()];
    if (names.length === 0) return;
    try {
      // ioredis resubscribes by itself, but does not say when that is confirmed; this does.
      await subscriber.subscribe(...names);
    } catch (error) {
      this.logger.warn(`resubscribing after a reconnect failed: ${(error as Error).message}`);
      return;
    }
    for (const name of names) {
      for (const state of this.channels.get(name)?.listeners ?? []) {
        if (state.subscribed) this.catchUpInBackground(state);
      }
    }
  }

  private catchUpInBackground(state: ListenerState): void {
    this.catchUp(state).catch((error: Error) => {
      this.logger.warn(`catching up scan ${state.scanId} failed: ${error.message}`);
    });
  }

  /**
   * Reads the log after the listener's last seq, delivers it, then the buffered live events, until no gap is left
   * that the log could fill. A call while a pass is running only asks for one more pass.
   */
  private async catchUp(state: ListenerState): Promise<void> {
    state.buffer ??= [];
    state.again = true;
    if (state.catchingUp) return;
    state.catchingUp = true;
    try {
      while (state.again && !state.closed) {
        state.again = false;
        const snapshot = await this.log.snapshotAfter(state.scanId, state.lastSeq);
        if (state.closed) return;
        this.apply(state, snapshot);
      }
    } catch (error) {
      // Only the first read decides whether subscribe() succeeds; later a failed read falls back to live delivery.
      if (!state.started) throw error;
      this.logger.warn(
        `reading the log of scan ${state.scanId} failed, continuing live: ${(error as Error).message}`,
      );
      const buffered = state.buffer ?? [];
      state.buffer = null;
      this.deliver(state, inOrder(buffered, state.lastSeq, Infinity).next);
    } finally {
      state.catchingUp = false;
    }
  }

  private apply(state: ListenerState, snapshot: ScanEventSnapshot): void {
    if (!state.started) {
      state.started = true;
      state.lastSeqAtStart = snapshot.lastSeq;
      if (state.onStart) this.call(state, () => state.onStart?.(snapshot.lastSeq));
    }
    this.deliver(state, inOrder(snapshot.events, state.lastSeq, Infinity).next);
    const buffered = state.buffer ?? [];
    // A missing seq at or below the snapshot is one the log no longer holds: nothing can fill it. One above was
    // published after the snapshot but its message never arrived: read the log again.
    const { next, gapAt } = inOrder(buffered, state.lastSeq, snapshot.lastSeq);
    this.deliver(state, next);
    if (gapAt !== undefined) {
      state.buffer = state.closed ? null : buffered.slice(gapAt);
      state.again = !state.closed;
      return;
    }
    state.buffer = state.again && !state.closed ? [] : null;
  }

  /** Hands `events` (increasing seqs, all above the listener's last) to the listener; nothing if empty or closed. */
  private deliver(state: ListenerState, events: readonly ScanEvent[]): void {
    if (state.closed || events.length === 0) return;
    state.lastSeq = events[events.length - 1].seq;
    this.call(state, () => state.listener(events));
  }

  private call(state: ListenerState, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.error(`a listener of scan ${state.scanId} threw: ${(error as Error).message}`);
    }
  }
}

/**
 * Walks `events` in order after `afterSeq`: skips seqs already passed (duplicates), keeps each next one, and stops
 * at the first gap once the walk has reached `gapsUpTo` (gaps below it are accepted). Returns the events kept
 * (`events` itself when all are) and the index of the event after the gap it stopped at, if any.
 */
function inOrder(
  events: readonly ScanEvent[],
  afterSeq: number,
  gapsUpTo: number,
): { next: readonly ScanEvent[]; gapAt?: number } {
  const next: ScanEvent[] = [];
  let last = afterSeq;
  for (let index = 0; index < events.length; index++) {
    const event = events[index];
    if (event.seq <= last) continue;
    if (event.seq > last + 1 && last >= gapsUpTo) return { next, gapAt: index };
    next.push(event);
    last = event.seq;
  }
  return { next: next.length === events.length ? events : next };
}
