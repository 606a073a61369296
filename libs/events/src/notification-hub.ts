// One gateway's subscriber for `/api/stream`: each topic's channel while a local stream follows it, and the
// session-ended channel; every notification reaches the local listeners of its topic after what the topic's log
// holds past the listener's Last-Event-ID, without a gap or a duplicate (EventStreamHub, as scan events).
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { NotificationTopic, PublishedNotification } from '@nso/contracts';
import Redis from 'ioredis';
import { notificationKeys, parseNotification } from './notifications';
import { RedisOutageMonitor } from './redis-outage.monitor';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from './redis.module';
import { readEventLog } from './stream/event-log';
import {
  EventStreamHub,
  EventStreamListener,
  EventStreamSubscribeOptions,
  EventStreamSubscription,
} from './stream/event-stream-hub';

/** Receives a topic's notifications in batches, in seq order; see EventStreamListener. */
export type NotificationListener = EventStreamListener<PublishedNotification>;

/**
 * The notification stream of this gateway: topics are notification topics. A topic's counter lives only in Redis:
 * when it was lost (restarted at 1), a listener resuming above it gets the whole log again (a few notifications
 * twice, none missed that the log holds). Guarantees otherwise as EventStreamHub's.
 */
@Injectable()
export class NotificationHub implements OnModuleDestroy {
  private readonly hub: EventStreamHub<PublishedNotification, NotificationTopic>;
  private readonly names: ReturnType<typeof notificationKeys>;
  /** Credential digest (a session's or a token's) → what to do when that credential ends. */
  private readonly credentialWatchers = new Map<string, Set<() => void>>();
  private credentialChannel?: Promise<unknown>;

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    @Inject(REDIS_KEYS) keys: RedisKeys,
    monitor: RedisOutageMonitor,
  ) {
    const names = notificationKeys(keys);
    this.names = names;
    this.hub = new EventStreamHub<PublishedNotification, NotificationTopic>(
      redis,
      {
        name: 'notifications',
        channel: (topic) => names.channel(topic),
        readLog: (topic, afterSeq) =>
          readEventLog(redis, { seq: names.seq(topic), log: names.log(topic) }, afterSeq, parseNotification),
        parse: (message) => parseNotification(message) ?? null,
        // A handful of listeners per topic and rare notifications: every one goes out on the next turn.
        fanOutIntervalMs: () => 0,
        counterMayRestart: true,
      },
      monitor,
    );
  }

  /**
   * Delivers the topic's logged notifications with seq > afterSeq (none when afterSeq is undefined: a fresh
   * stream starts live), then live ones, in seq order. `onStart`'s second argument is the seq the subscription
   * starts after, given before the first delivery.
   */
  subscribe(
    topic: NotificationTopic,
    options: EventStreamSubscribeOptions,
    listener: NotificationListener,
  ): Promise<EventStreamSubscription> {
    return this.hub.subscribe(topic, options, listener);
  }

  /**
   * Calls `onEnd` when the credential with this digest ends: a session destroyed (logout) or an API token revoked,
   * on any replica (Notifier.sessionEnded, Notifier.tokenRevoked). Resolves, once the channel is subscribed, with
   * the function that stops watching.
   */
  async watchCredential(credentialDigest: string, onEnd: () => void): Promise<() => void> {
    let watchers = this.credentialWatchers.get(credentialDigest);
    if (!watchers) this.credentialWatchers.set(credentialDigest, (watchers = new Set()));
    watchers.add(onEnd);
    this.credentialChannel ??= this.hub.watchChannel(this.names.sessionEnded, (digest) => {
      for (const ended of [...(this.credentialWatchers.get(digest) ?? [])]) ended();
    });
    await this.credentialChannel;
    return () => {
      watchers.delete(onEnd);
      if (watchers.size === 0 && this.credentialWatchers.get(credentialDigest) === watchers) {
        this.credentialWatchers.delete(credentialDigest);
      }
    };
  }

  onModuleDestroy(): void {
    this.credentialWatchers.clear();
    this.hub.close();
  }
}
