// The notification stream of seed 003 "SSE Streaming" (`GET /api/stream`): short `{message, type}` alerts on three
// kinds of topic — everyone (broadcast), one user, the admins — each with its own seq counter, bounded replay log
// and pub/sub channel in Redis, so that every gateway replica serves every subscriber and Last-Event-ID resumes.
import { Inject, Injectable, Optional } from '@nestjs/common';
import Redis from 'ioredis';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from './redis.module';
import { Metrics } from './metrics';

/** Seed 003's alert types. */
export const NOTIFICATION_TYPES = ['success', 'info', 'warning', 'error'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** What a stream subscriber receives as the event's data (seed 003: `{"message": ..., "type": ...}`). */
export interface Notification {
  message: string;
  type: NotificationType;
}

/** `broadcast`: every stream; `admins`: streams of admins; `user:<id>`: that user's streams. */
export type NotificationTopic = 'broadcast' | 'admins' | `user:${number}`;

/** A notification as logged and published: its topic and its seq in that topic. */
export interface PublishedNotification extends Notification {
  topic: NotificationTopic;
  seq: number;
}

/** How many of a topic's newest notifications the replay log keeps, and how long an idle log lives. */
export const NOTIFICATION_LOG_MAX = 200;
export const NOTIFICATION_LOG_TTL_SECONDS = 7 * 24 * 3600;

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

const COMMAND = 'nsoPublishNotification';

/** KEYS[1] seq, KEYS[2] log; ARGV[1] channel, ARGV[2] max length, ARGV[3] ttl, ARGV[4] JSON object without seq. */
const PUBLISH_LUA = `
local seq = redis.call('INCR', KEYS[1])
local body = '{"seq":' .. string.format('%d', seq) .. ',' .. string.sub(ARGV[4], 2)
redis.call('ZADD', KEYS[2], seq, body)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
redis.call('PUBLISH', ARGV[1], body)
return seq
`;

type WithCommand = Redis & {
  [COMMAND](
    seqKey: string,
    logKey: string,
    channel: string,
    max: number,
    ttl: number,
    body: string,
  ): Promise<number>;
};

export const userTopic = (userId: number): NotificationTopic => `user:${userId}`;

/**
 * Publishes notifications: stamps each with the topic's next seq, appends it to the topic's bounded log and
 * publishes it on the topic's channel, in one Lua script (seq, log and publish order agree). Used by the gateway
 * (broadcast, client awaiting approval, logout) and the workers (a run ended). Errors: Redis errors reject.
 */
@Injectable()
export class Notifier {
  private readonly redis: WithCommand;
  private readonly names: ReturnType<typeof notificationKeys>;

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    @Inject(REDIS_KEYS) keys: RedisKeys,
    @Optional() private readonly metrics?: Metrics,
  ) {
    redis.defineCommand(COMMAND, { numberOfKeys: 2, lua: PUBLISH_LUA });
    this.redis = redis as WithCommand;
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
    const seq = await this.redis[COMMAND](
      this.names.seq(topic),
      this.names.log(topic),
      this.names.channel(topic),
      NOTIFICATION_LOG_MAX,
      NOTIFICATION_LOG_TTL_SECONDS,
      body,
    );
    this.metrics?.notificationsPublished.inc({ topic: topic.startsWith('user:') ? 'user' : topic });
    return Number(seq);
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

/**
 * Reads a topic's log: notifications with seq > afterSeq (oldest first) and the topic's current seq, atomically.
 * When afterSeq is above the current seq (the counter was lost with Redis), the whole log is returned.
 */
export async function readNotificationLog(
  redis: Redis,
  keys: RedisKeys,
  topic: NotificationTopic,
  afterSeq: number,
): Promise<{ notifications: PublishedNotification[]; lastSeq: number }> {
  const names = notificationKeys(keys);
  const replies = await redis
    .multi()
    .get(names.seq(topic))
    .zrangebyscore(names.log(topic), `(${afterSeq}`, '+inf')
    .exec();
  if (!replies) throw new Error('reading the notification log was aborted');
  for (const [error] of replies) if (error) throw error;
  const lastSeq = Number(replies[0][1] ?? 0);
  let raw = replies[1][1] as string[];
  if (afterSeq > lastSeq) raw = await redis.zrangebyscore(names.log(topic), '-inf', '+inf');
  const notifications = raw.map(parseNotification).filter((n): n is PublishedNotification => n !== undefined);
  return { notifications, lastSeq };
}
