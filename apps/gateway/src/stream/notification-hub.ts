// One gateway's Redis subscriber for `/api/stream`: it subscribes each topic's channel while a local stream needs
// it, and the session-ended channel, and hands every notification to the local listeners of its topic — after
// what the topic's log holds past the listener's Last-Event-ID, without a gap or a duplicate.
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import {
  notificationKeys,
  NotificationTopic,
  parseNotification,
  PublishedNotification,
  readNotificationLog,
  REDIS_CLIENT,
  REDIS_KEYS,
  RedisKeys,
  RedisOutageMonitor,
} from '@nso/events';
import Redis from 'ioredis';

export type NotificationListener = (notification: PublishedNotification) => void;

interface ListenerState {
  readonly topic: NotificationTopic;
  readonly listener: NotificationListener;
  /** Highest seq delivered (or skipped as older than the subscription); anything at or below it is a duplicate. */
  lastSeq: number;
  /** Live notifications held back while the log is read; null when live. */
  buffer: PublishedNotification[] | null;
  catchingUp: boolean;
  closed: boolean;
}

/** A topic subscription; `close()` is idempotent. */
export interface TopicSubscription {
  /** The topic's seq when the subscription started (after any replay). */
  readonly lastSeq: number;
  close(): void;
}

const SUBSCRIBER_NAME = 'notification subscriber';

@Injectable()
export class NotificationHub implements OnModuleDestroy {
  private readonly logger = new Logger(NotificationHub.name);
  private readonly names: ReturnType<typeof notificationKeys>;
  /** Channel name → listeners, and the promise of the channel's SUBSCRIBE. */
  private readonly channels = new Map<
    string,
    { listeners: Set<ListenerState>; subscribed: Promise<unknown> }
  >();
  /** Credential digest (a session's or a token's) → what to do when that credential ends. */
  private readonly sessionWatchers = new Map<string, Set<() => void>>();
  private subscriber?: Redis;
  private sessionChannel?: Promise<unknown>;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    private readonly monitor: RedisOutageMonitor,
  ) {
    this.names = notificationKeys(keys);
  }

  /**
   * Delivers the topic's logged notifications with seq > afterSeq (none when afterSeq is undefined: a fresh
   * stream starts live), then live ones, in seq order. The listener must not throw. `onStart` is called once with
   * the seq the subscription starts after, before the first delivery.
   */
  async subscribe(
    topic: NotificationTopic,
    afterSeq: number | undefined,
    listener: NotificationListener,
    onStart?: (startSeq: number) => void,
  ): Promise<TopicSubscription> {
    const state: ListenerState = {
      topic,
      listener,
      lastSeq: afterSeq ?? 0,
      buffer: [],
      catchingUp: false,
      closed: false,
    };
    const channelName = this.names.channel(topic);
    let channel = this.channels.get(channelName);
    if (!channel) {
      channel = { listeners: new Set(), subscribed: this.getSubscriber().subscribe(channelName) };
      this.channels.set(channelName, channel);
    }
    channel.listeners.add(state);
    const close = () => this.leave(state);
    try {
      await channel.subscribed;
      if (afterSeq === undefined) {
        // Live only: whatever was published before this instant is not this stream's.
        state.lastSeq = Number((await this.redis.get(this.names.seq(topic))) ?? 0);
      }
      if (state.closed) return { lastSeq: state.lastSeq, close };
      onStart?.(state.lastSeq);
      await this.catchUp(state);
    } catch (error) {
      close();
      throw error;
    }
    return { lastSeq: state.lastSeq, close };
  }

  /**
   * Calls `onEnd` when the credential with this digest ends: a session destroyed (logout) or an API token revoked,
   * on any replica (Notifier.sessionEnded, Notifier.tokenRevoked). Resolves, once the channel is subscribed, with
   * the function that stops watching.
   */
  async watchCredential(credentialDigest: string, onEnd: () => void): Promise<() => void> {
    let watchers = this.sessionWatchers.get(credentialDigest);
    if (!watchers) this.sessionWatchers.set(credentialDigest, (watchers = new Set()));
    watchers.add(onEnd);
    this.sessionChannel ??= this.getSubscriber().subscribe(this.names.sessionEnded);
    await this.sessionChannel;
    return () => {
      watchers.delete(onEnd);
      if (watchers.size === 0 && this.sessionWatchers.get(credentialDigest) === watchers) {
        this.sessionWatchers.delete(credentialDigest);
      }
    };
  }

  onModuleDestroy(): void {
    for (const channel of this.channels.values()) for (const state of channel.listeners) state.closed = true;
    this.channels.clear();
    this.sessionWatchers.clear();
    this.monitor.unwatchClient(SUBSCRIBER_NAME);
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  private leave(state: ListenerState): void {
    if (state.closed) return;
    state.closed = true;
    state.buffer = null;
    const name = this.names.channel(state.topic);
    const channel = this.channels.get(name);
    if (!channel?.listeners.delete(state) || channel.listeners.size > 0) return;
    this.channels.delete(name);
    this.subscriber?.unsubscribe(name).catch((error: Error) => {
      this.logger.warn(`unsubscribing ${name} failed: ${error.message}`);
    });
  }

  private getSubscriber(): Redis {
    if (this.subscriber) return this.subscriber;
    const subscriber = this.redis.duplicate({ connectionName: 'nso-notifications' });
    let readyBefore = false;
    subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    this.monitor.watchClient(SUBSCRIBER_NAME, subscriber);
    subscriber.on('ready', () => {
      // Messages published while the connection was down are lost; every listener reads its log again.
      if (readyBefore) {
        for (const channel of this.channels.values()) {
          for (const state of channel.listeners) this.catchUpInBackground(state);
        }
      }
      readyBefore = true;
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  private onMessage(channelName: string, message: string): void {
    if (channelName === this.names.sessionEnded) {
      for (const onEnd of [...(this.sessionWatchers.get(message) ?? [])]) onEnd();
      return;
    }
    const channel = this.channels.get(channelName);
    if (!channel) return;
    const notification = parseNotification(message);
    if (!notification) {
      this.logger.warn(`ignoring a malformed message on ${channelName}`);
      return;
    }
    for (const state of channel.listeners) {
      if (state.buffer) state.buffer.push(notification);
      else if (notification.seq > state.lastSeq + 1) {
        // A message went missing (or the counter restarted): the log has what was published.
        state.buffer = [notification];
        this.catchUpInBackground(state);
      } else this.deliver(state, notification);
    }
  }

  private catchUpInBackground(state: ListenerState): void {
    state.buffer ??= [];
    this.catchUp(state).catch((error: Error) => {
      this.logger.warn(`catching up ${state.topic} failed: ${error.message}`);
      const buffered = state.buffer ?? [];
      state.buffer = null;
      for (const notification of buffered) this.deliver(state, notification);
    });
  }

  /** Reads the log past lastSeq, delivers it and then the buffered live notifications; goes live. */
  private async catchUp(state: ListenerState): Promise<void> {
    if (state.catchingUp) return;
    state.catchingUp = true;
    try {
      const { notifications, lastSeq } = await readNotificationLog(
        this.redis,
        this.keys,
        state.topic,
        state.lastSeq,
      );
      if (state.closed) return;
      // A counter below what the client saw was lost with Redis: the log, re-read from 0, is all there is.
      if (lastSeq < state.lastSeq) state.lastSeq = 0;
      for (const notification of notifications) this.deliver(state, notification);
      const buffered = state.buffer ?? [];
      state.buffer = null;
      for (const notification of buffered) this.deliver(state, notification);
    } finally {
      state.catchingUp = false;
    }
  }

  private deliver(state: ListenerState, notification: PublishedNotification): void {
    if (state.closed || notification.seq <= state.lastSeq) return;
    state.lastSeq = notification.seq;
    try {
      state.listener(notification);
    } catch (error) {
      this.logger.error(`a notification listener threw: ${(error as Error).message}`);
    }
  }
}
