// The gateway side of every event stream (a scan's events, a notification topic): one Redis subscriber connection
// per hub and process, fanned out to local listeners, each getting what it missed from the topic's bounded log and
// then live events, in seq order, without a gap or a duplicate.
//
// Live events reach listeners in batches: what arrived for a topic since its last fan-out, with fan-outs spaced by
// the topic's listener count (fanOutIntervalMs). Every live listener gets the same array, so a transport encodes a
// batch once for all of them (bench fanout, docs/performance.md).
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import type { SequencedEvent } from '@nso/contracts';
import { RedisOutageMonitor } from '../redis-outage.monitor';
import { EventLogSnapshot } from './event-log';
import type {
  EventStreamListener,
  EventStreamSource,
  EventStreamSubscribeOptions,
  EventStreamSubscription,
} from './event-stream-types';

export type {
  EventStreamListener,
  EventStreamSource,
  EventStreamSubscribeOptions,
  EventStreamSubscription,
} from './event-stream-types';

interface ListenerState<T extends SequencedEvent, K> {
  readonly topic: K;
  readonly channel: string;
  readonly listener: EventStreamListener<T>;
  readonly onStart?: (lastSeq: number, afterSeq: number) => void;
  /** Live only: the start is the topic's seq at the first log read. */
  readonly live: boolean;
  /** Highest seq delivered so far (starts at afterSeq); anything at or below it is a duplicate. */
  lastSeq: number;
  /** Live events held back while the log is being read; null once the listener is live. */
  buffer: T[] | null;
  /** The channel's SUBSCRIBE is confirmed, so the log may be read without a gap. */
  subscribed: boolean;
  started: boolean;
  lastSeqAtStart: number;
  catchingUp: boolean;
  /** Another log read is needed once the current one has been applied. */
  again: boolean;
  closed: boolean;
}

interface Channel<T extends SequencedEvent, K> {
  readonly name: string;
  readonly listeners: Set<ListenerState<T, K>>;
  /** Resolves once Redis has confirmed the SUBSCRIBE. */
  readonly subscribed: Promise<unknown>;
  /** Live events received since the last fan-out, in arrival order. */
  pending: T[];
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
 *
 * Besides its streams, a hub carries plain channels on the same connection (`watchChannel`): messages without a
 * seq or a log, such as "this session ended".
 */
export class EventStreamHub<T extends SequencedEvent, K> {
  private readonly logger: Logger;
  private readonly channels = new Map<string, Channel<T, K>>();
  private readonly plain = new Map<
    string,
    { handlers: Set<(message: string) => void>; subscribed: Promise<unknown> }
  >();
  private subscriber?: Redis;
  private destroyed = false;

  constructor(
    private readonly redis: Redis,
    private readonly source: EventStreamSource<T, K>,
    private readonly monitor?: RedisOutageMonitor,
  ) {
    this.logger = new Logger(`EventStreamHub(${source.name})`);
  }

  /**
   * Delivers every logged event of `topic` with seq > afterSeq (none for a live-only subscription), then live
   * events, to the listener. Events already delivered when this resolves are the replay. Rejects, with nothing
   * delivered, when the subscription or the first log read fails.
   */
  async subscribe(
    topic: K,
    options: EventStreamSubscribeOptions,
    listener: EventStreamListener<T>,
  ): Promise<EventStreamSubscription> {
    const { afterSeq } = options;
    if (afterSeq !== undefined && (!Number.isSafeInteger(afterSeq) || afterSeq < 0)) {
      throw new Error(`invalid ${this.source.name} subscription: after seq ${afterSeq}`);
    }
    if (this.destroyed) throw new Error(`the ${this.source.name} hub is shut down`);
    const state: ListenerState<T, K> = {
      topic,
      channel: this.source.channel(topic),
      listener,
      onStart: options.onStart,
      live: afterSeq === undefined,
      lastSeq: afterSeq ?? 0,
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

  /** How many local listeners this process has for a topic. */
  listenerCount(topic: K): number {
    return this.channels.get(this.source.channel(topic))?.listeners.size ?? 0;
  }

  /**
   * Calls `onMessage` with every message published on the plain channel `name` (no seq, no log: what is missed
   * while the connection is down is lost). Resolves, once Redis has confirmed the SUBSCRIBE, with the function that
   * stops watching; the channel stays subscribed for the hub's lifetime.
   */
  async watchChannel(name: string, onMessage: (message: string) => void): Promise<() => void> {
    if (this.destroyed) throw new Error(`the ${this.source.name} hub is shut down`);
    let entry = this.plain.get(name);
    if (!entry) {
      entry = { handlers: new Set(), subscribed: this.getSubscriber().subscribe(name) };
      this.plain.set(name, entry);
    }
    const { handlers } = entry;
    handlers.add(onMessage);
    await entry.subscribed;
    return () => handlers.delete(onMessage);
  }

  /** Closes every subscription and the subscriber connection. */
  close(): void {
    this.destroyed = true;
    for (const channel of this.channels.values()) {
      for (const state of channel.listeners) {
        state.closed = true;
        state.buffer = null;
      }
    }
    this.channels.clear();
    this.plain.clear();
    // Nothing to flush on a subscriber connection, and QUIT could wait for a reconnect.
    this.monitor?.unwatchClient(this.subscriberName);
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  private get subscriberName(): string {
    return `${this.source.name} subscriber`;
  }

  private join(state: ListenerState<T, K>): Channel<T, K> {
    let channel = this.channels.get(state.channel);
    if (!channel) {
      const created: Channel<T, K> = {
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

  private leave(state: ListenerState<T, K>): void {
    if (state.closed) return;
    state.closed = true;
    state.buffer = null;
    const channel = this.channels.get(state.channel);
    if (!channel?.listeners.delete(state) || channel.listeners.size > 0) return;
    this.channels.delete(state.channel);
    // Commands on one connection run in order, so a SUBSCRIBE issued later for the same channel still wins.
    this.subscriber?.unsubscribe(state.channel).catch((error: Error) => {
      this.logger.warn(`unsubscribing ${state.channel} failed: ${error.message}`);
    });
  }

  private getSubscriber(): Redis {
    if (this.subscriber) return this.subscriber;
    const subscriber = this.redis.duplicate({ connectionName: `nso-${this.source.name}` });
    let readyBefore = false;
    subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    if (this.monitor) this.monitor.watchClient(this.subscriberName, subscriber);
    else
      subscriber.on('error', (error: Error) => this.logger.warn(`${this.subscriberName}: ${error.message}`));
    subscriber.on('ready', () => {
      if (readyBefore) void this.resyncAfterReconnect(subscriber);
      readyBefore = true;
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  private onMessage(channelName: string, message: string): void {
    const plain = this.plain.get(channelName);
    if (plain) {
      for (const handler of [...plain.handlers]) this.call(channelName, () => handler(message));
      return;
    }
    const channel = this.channels.get(channelName);
    if (!channel) return;
    const event = this.source.parse(message);
    if (!event) {
      this.logger.warn(`ignoring a malformed message on ${channelName}: ${message.slice(0, 200)}`);
      return;
    }
    if (Array.isArray(event)) for (const one of event as readonly T[]) channel.pending.push(one);
    else channel.pending.push(event as T);
    if (channel.scheduled) return;
    channel.scheduled = true;
    const interval = this.source.fanOutIntervalMs(channel.listeners.size);
    const wait = channel.lastFanOutAt + interval - performance.now();
    if (wait <= 0) setImmediate(() => this.fanOut(channel));
    else setTimeout(() => this.fanOut(channel), wait).unref();
  }

  /** Hands the channel's pending events to every listener: live ones get the same array. */
  private fanOut(channel: Channel<T, K>): void {
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
  private offerOneByOne(state: ListenerState<T, K>, batch: readonly T[]): void {
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

  private catchUpInBackground(state: ListenerState<T, K>): void {
    this.catchUp(state).catch((error: Error) => {
      this.logger.warn(`catching up ${state.channel} failed: ${error.message}`);
    });
  }

  /**
   * Reads the log after the listener's last seq, delivers it, then the buffered live events, until no gap is left
   * that the log could fill. A call while a pass is running only asks for one more pass.
   */
  private async catchUp(state: ListenerState<T, K>): Promise<void> {
    state.buffer ??= [];
    state.again = true;
    if (state.catchingUp) return;
    state.catchingUp = true;
    try {
      while (state.again && !state.closed) {
        state.again = false;
        const snapshot = await this.readLog(state);
        if (state.closed) return;
        this.apply(state, snapshot);
      }
    } catch (error) {
      // Only the first read decides whether subscribe() succeeds; later a failed read falls back to live delivery.
      if (!state.started) throw error;
      this.logger.warn(
        `reading the log of ${state.channel} failed, continuing live: ${(error as Error).message}`,
      );
      const buffered = state.buffer ?? [];
      state.buffer = null;
      this.deliver(state, inOrder(buffered, state.lastSeq, Infinity).next);
    } finally {
      state.catchingUp = false;
    }
  }

  /** The log after the listener's last seq; the whole log when the topic's counter went back below it. */
  private async readLog(state: ListenerState<T, K>): Promise<EventLogSnapshot<T>> {
    const snapshot = await this.source.readLog(state.topic, state.lastSeq);
    if (state.live && !state.started) {
      // Live only: the start is this instant, and what the log holds is from before it.
      state.lastSeq = snapshot.lastSeq;
      return { events: [], lastSeq: snapshot.lastSeq };
    }
    if (!this.source.counterMayRestart || snapshot.lastSeq >= state.lastSeq) return snapshot;
    // The counter was lost with Redis and started again: the log, read from its start, is all there is.
    if (!state.started) this.start(state, snapshot.lastSeq);
    state.lastSeq = 0;
    return this.source.readLog(state.topic, 0);
  }

  private start(state: ListenerState<T, K>, lastSeq: number): void {
    state.started = true;
    state.lastSeqAtStart = lastSeq;
    const { onStart } = state;
    const afterSeq = state.lastSeq;
    if (onStart) this.call(state.channel, () => onStart(lastSeq, afterSeq));
  }

  private apply(state: ListenerState<T, K>, snapshot: EventLogSnapshot<T>): void {
    if (!state.started) this.start(state, snapshot.lastSeq);
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
  private deliver(state: ListenerState<T, K>, events: readonly T[]): void {
    if (state.closed || events.length === 0) return;
    state.lastSeq = events[events.length - 1].seq;
    this.call(state.channel, () => state.listener(events));
  }

  private call(channel: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.error(`a listener of ${channel} threw: ${(error as Error).message}`);
    }
  }
}

/**
 * Walks `events` in order after `afterSeq`: skips seqs already passed (duplicates), keeps each next one, and stops
 * at the first gap once the walk has reached `gapsUpTo` (gaps below it are accepted). Returns the events kept
 * (`events` itself when all are) and the index of the event after the gap it stopped at, if any.
 */
function inOrder<T extends SequencedEvent>(
  events: readonly T[],
  afterSeq: number,
  gapsUpTo: number,
): { next: readonly T[]; gapAt?: number } {
  const next: T[] = [];
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
