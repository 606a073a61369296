// The notification stream of seed 003 "SSE Streaming" (`GET /api/stream`): short `{message, type}` alerts on three
// kinds of topic — everyone (broadcast), one user, the admins — each with its own seq counter, bounded replay log
// and pub/sub channel in Redis, so that every gateway replica serves every subscriber and Last-Event-ID resumes.
import { Inject, Injectable, Optional } from '@nestjs/common';
import Redis from 'ioredis';
import {
  Notification,
  NOTIFICATION_TYPES,
  NotificationTopic,
  NotificationType,
  PublishedNotification,
  userTopic,
} from '@nso/contracts';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from './redis.module';
import { Metrics } from '@nso/monitoring';
import { EventLogBounds, EventLogWriter } from './stream/event-log';

/** How many of a topic's newest notifications the replay log keeps, and how long an idle log lives. */
export const NOTIFICATION_LOG_MAX = 200;
export const NOTIFICATION_LOG_TTL_SECONDS = 7 * 24 * 3600;
const NOTIFICATION_LOG_BOUNDS: EventLogBounds = {
  maxLength: NOTIFICATION_LOG_MAX,
  ttlSeconds: NOTIFICATION_LOG_TTL_SECONDS,
};

/** Redis names of the notification stream (all under REDIS_PREFIX, like every other key). */
export const notificationKeys = (keys: RedisKeys) => ({
  channel: (topic: NotificationTopic) => `${keys.prefix}:notify:${topic}`,
  /** The seq counter never expires: a counter restarted at 1 would make resuming clients skip notifications. */
  seq: (topic: NotificationTopic) => `${keys.prefix}:notify:${topic}:seq`,
  /** Sorted set scored by seq, trimmed to NOTIFICATION_LOG_MAX. */
  log: (topic: NotificationTopic) => `${keys.prefix}:notify:${topic}:log`,
  /**
   * A credential ended: a session was destroyed (logout) or an API token revoked. The message is the SHA-256 (hex)
   * of the session id, as the session key holds it, or of the token, as api_tokens.token_hash holds it (the two
   * cannot collide). The channel keeps its first name: channel names are frozen once shipped.
   */
  sessionEnded: `${keys.prefix}:notify:session-ended`,
});

/**
 * Publishes notifications: stamps each with the topic's next seq, appends it to the topic's bounded log and
 * publishes it on the topic's channel, in one Lua script (seq, log and publish order agree: EventLogWriter, the
 * same as scan events'). Used by the gateway
 * (broadcast, client awaiting approval, logout) and the workers (a run ended). Errors: Redis errors reject.
 */
@Injectable()
export class Notifier {
  private readonly writer: EventLogWriter;
  private readonly names: ReturnType<typeof notificationKeys>;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) keys: RedisKeys,
    @Optional() private readonly metrics?: Metrics,
  ) {
    this.writer = new EventLogWriter(redis);
    this.names = notificationKeys(keys);
  }

  /** To every `/api/stream` subscriber (anonymous ones too), on every gateway replica. Resolves with its seq. */
  broadcast(notification: Notification): Promise<number> {
    return this.publish('broadcast', notification);
  }

  /** To the streams of one user (session or token). Resolves with its seq in that user's topic. */
  notifyUser(userId: number, notification: Notification): Promise<number> {
    if (!Number.isSafeInteger(userId) || userId < 1)
      return Promise.reject(new Error(`invalid user id ${userId}`));
    return this.publish(userTopic(userId), notification);
  }

  /** To the streams of every admin (e.g. a scanner client awaiting approval). */
  notifyAdmins(notification: Notification): Promise<number> {
    return this.publish('admins', notification);
  }

  /**
   * A login session was destroyed: streams opened with it send the login redirect and close, on every replica.
   * `sessionDigest` is the SHA-256 (hex) of the session id, as SessionStore keys it.
   */
  async sessionEnded(sessionDigest: string): Promise<void> {
    await this.redis.publish(this.names.sessionEnded, sessionDigest);
  }

  /**
   * An API token was revoked: streams opened with it send the login redirect and close, on every replica, as a
   * session's do on logout. `tokenDigest` is the SHA-256 (hex) of the token, as api_tokens.token_hash stores it.
   * Errors: a Redis error rejects.
   */
  async tokenRevoked(tokenDigest: string): Promise<void> {
    await this.redis.publish(this.names.sessionEnded, tokenDigest);
  }

  private async publish(topic: NotificationTopic, notification: Notification): Promise<number> {
    const body = JSON.stringify({ topic, message: notification.message, type: notification.type });
    const seq = await this.writer.append(
      { seq: this.names.seq(topic), log: this.names.log(topic), channel: this.names.channel(topic) },
      NOTIFICATION_LOG_BOUNDS,
      [body],
    );
    this.metrics?.notificationsPublished.inc({ topic: topic.startsWith('user:') ? 'user' : topic });
    return seq;
  }
}

/** Parses one logged or published notification; undefined when it is not one. */
export function parseNotification(text: string): PublishedNotification | undefined {
  try {
    const value = JSON.parse(text) as Partial<PublishedNotification>;
    if (
      typeof value.seq !== 'number' ||
      typeof value.topic !== 'string' ||
      typeof value.message !== 'string' ||
      !NOTIFICATION_TYPES.includes(value.type as NotificationType)
    ) {
      return undefined;
    }
    return value as PublishedNotification;
  } catch {
    return undefined;
  }
}
