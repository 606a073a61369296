// The gateway side of the event stream: one Redis subscriber connection per process, fanned out to local listeners
// (WebSocket and SSE clients), each getting what it missed from the replay log and then live events, in seq order.
import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import Redis from 'ioredis';
import type { ScanEvent } from '@nso/contracts';
import { RedisOutageMonitor } from './redis-outage.monitor';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from './redis.module';
import { parseScanEvent, ScanEventLog, ScanEventSnapshot } from './scan-event-log';

const SUBSCRIBER_NAME = 'scan event subscriber';

export type ScanEventListener = (event: ScanEvent) => void;

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
  readonly listeners: Set<ListenerState>;
  /** Resolves once Redis has confirmed the SUBSCRIBE. */
  readonly subscribed: Promise<unknown>;
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
        listeners: new Set(),
        subscribed: this.getSubscriber().subscribe(state.channel),
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
    for (const state of channel.listeners) {
      if (state.buffer) {
        state.buffer.push(event);
      } else if (event.seq > state.lastSeq + 1) {
        state.buffer = [event];
        this.catchUpInBackground(state);
      } else {
        this.deliver(state, event);
      }
    }
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
      for (const event of buffered) this.deliver(state, event);
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
    for (const event of snapshot.events) this.deliver(state, event);
    const buffered = state.buffer ?? [];
    for (let index = 0; index < buffered.length && !state.closed; index++) {
      const event = buffered[index];
      if (event.seq <= state.lastSeq) continue;
      if (event.seq > state.lastSeq + 1 && state.lastSeq >= snapshot.lastSeq) {
        // The next seq was published after the snapshot but its message never arrived: read the log again.
        // (A missing seq at or below the snapshot is one the log no longer holds; nothing can fill it.)
        state.buffer = buffered.slice(index);
        state.again = true;
        return;
      }
      this.deliver(state, event);
    }
    state.buffer = state.again && !state.closed ? [] : null;
  }

  private deliver(state: ListenerState, event: ScanEvent): void {
    if (state.closed || event.seq <= state.lastSeq) return;
    state.lastSeq = event.seq;
    this.call(state, () => state.listener(event));
  }

  private call(state: ListenerState, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.error(`a listener of scan ${state.scanId} threw: ${(error as Error).message}`);
    }
  }
}
