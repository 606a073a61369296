// What a stream's listeners and sources look like to EventStreamHub (event-stream-hub.ts): the listener of a batch,
// the options and handle of a subscription, and the source a stream reads its topic's log and channel from.
import type { SequencedEvent } from '@nso/contracts';
import type { EventLogSnapshot } from './event-log';

/**
 * Receives events in batches: never empty, seqs increasing (consecutive but for what the log no longer holds). The
 * array and its events are shared with the topic's other listeners in this process (and cached by the transports'
 * encoders): never change them. Must not throw (a throw is logged and the stream goes on).
 */
export type EventStreamListener<T extends SequencedEvent> = (events: readonly T[]) => void;

/** Where a subscription starts. */
export interface EventStreamSubscribeOptions {
  /**
   * Start after this seq (a client's `since` or Last-Event-ID). Undefined: live only, from the topic's seq at the
   * instant the subscription is confirmed; what was published before is not this listener's.
   */
  afterSeq?: number;
  /**
   * Called once, before the first event reaches the listener: `lastSeq` is the topic's highest seq when the log
   * was read, `afterSeq` the seq delivery starts after (the one given, or `lastSeq` for a live-only subscription).
   * Lets a transport send its greeting ahead of the replay.
   */
  onStart?: (lastSeq: number, afterSeq: number) => void;
}

export interface EventStreamSubscription {
  /** The topic's highest seq when this subscription read the log (0 if nothing was ever published). */
  readonly lastSeqAtStart: number;
  /** Stops delivery; unsubscribes the channel when this was the hub's last local listener of it. Idempotent. */
  close(): void;
}

/** What a hub needs to know about its kind of stream. */
export interface EventStreamSource<T extends SequencedEvent, K> {
  /** Names the subscriber connection (`nso-<name>`) and the hub's log lines. */
  readonly name: string;
  /** The pub/sub channel of a topic. */
  channel(topic: K): string;
  /** The topic's logged events after a seq, and its highest seq, read at one instant. */
  readLog(topic: K, afterSeq: number): Promise<EventLogSnapshot<T>>;
  /**
   * An event as published on the channel, or the events of a bulk entry (consecutive seqs, in order); null when
   * the message is not one (it is logged and ignored).
   */
  parse(message: string): T | readonly T[] | null;
  /** The least time between two fan-outs of a topic with this many local listeners, in ms (0: next turn). */
  fanOutIntervalMs(listeners: number): number;
  /**
   * True when a topic's seq counter may start again at 1 (it lives only in Redis): a listener whose last seq is
   * above the counter then gets the whole log again rather than waiting for seqs it has passed. False when the
   * counter never goes back (scan events reserve their seqs in the database).
   */
  readonly counterMayRestart: boolean;
}
