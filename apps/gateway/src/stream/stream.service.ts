// `GET /api/stream` (seed 003 "SSE Streaming"): broadcasts for everyone, plus the user's own notifications (and the
// admins' for an admin), as `{message, type}`; a login redirect, then the end, when the stream's session ends or
// the API token it was opened with is revoked.
import { BeforeApplicationShutdown, Inject, Injectable, MessageEvent } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { NotificationTopic, PublishedNotification, userTopic } from '@nso/contracts';
import { NotificationHub } from '@nso/events';
import { Metrics } from '@nso/monitoring';
import { Observable, Subscriber } from 'rxjs';
import { AuthUser } from '../users/current-user';
import { CredentialWatch } from './credential-watch';
import { formatStreamPosition, StreamPosition } from './stream-position';

/** Seed 003's redirect event: the EventSource client sends the browser to the login page. */
export const LOGIN_REDIRECT = { type: 'redirect', url: '/auth/login', endpoint: 'auth.login' } as const;

const KEEP_ALIVE: MessageEvent = { comment: 'keep-alive' } as MessageEvent;
/** Sent once every topic is subscribed: from here on nothing published is missed (and proxies see a first byte). */
export const STREAM_READY: MessageEvent = { comment: 'connected' } as MessageEvent;

/** Who opened the stream: nobody, or a user with a session (cookie) or without one (bearer token). */
export interface StreamViewer {
  user?: AuthUser;
  /** The session id from the cookie; the stream ends with the session. */
  sessionId?: string;
  /** The SHA-256 of the bearer token; the stream ends when the token is revoked. */
  tokenDigest?: string;
}

const kindOf = (topic: NotificationTopic): keyof StreamPosition =>
  topic === 'broadcast' ? 'b' : topic === 'admins' ? 'a' : 'u';

@Injectable()
export class StreamService implements BeforeApplicationShutdown {
  private readonly open = new Set<Subscriber<MessageEvent>>();

  constructor(
    private readonly hub: NotificationHub,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
    private readonly credentials: CredentialWatch,
  ) {}

  /** Ends every stream so the HTTP server can close; EventSource clients reconnect to another replica. */
  beforeApplicationShutdown(): void {
    for (const subscriber of this.open) subscriber.complete();
  }

  /** Topics a viewer follows: broadcast; a user's own; admins' for an admin. */
  topics(viewer: StreamViewer): NotificationTopic[] {
    const topics: NotificationTopic[] = ['broadcast'];
    if (viewer.user) topics.push(userTopic(viewer.user.id));
    if (viewer.user?.role === 'admin') topics.push('admins');
    return topics;
  }

  /**
   * The stream: each notification as `{id: <position>, data: {message, type}}` (no event name, so EventSource's
   * `onmessage` gets it), resumed after `from`; a comment when quiet for SSE_KEEPALIVE_SECONDS. A session stream
   * ends with LOGIN_REDIRECT when the session is destroyed (published by every logout) or found expired (checked
   * every SSE_KEEPALIVE_SECONDS, without renewing it); a token stream the same way when its token is revoked
   * (published by the revocation) or found gone (the same check, in the database).
   */
  stream(viewer: StreamViewer, from: StreamPosition): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      this.open.add(subscriber);
      this.metrics.subscribers.inc({ transport: 'stream' });
      const position: StreamPosition = {};
      const cleanups: Array<() => void> = [];
      let closed = false;
      const keepAlive: NodeJS.Timeout = setTimeout(() => {
        subscriber.next(KEEP_ALIVE);
        keepAlive.refresh();
      }, this.config.sseKeepAliveMs);
      const redirect = () => {
        if (closed) return;
        // With the stream's position as its id (Nest would number an event without one), so that a client which
        // logs in again and resumes with it misses nothing.
        subscriber.next({ id: formatStreamPosition(position), data: LOGIN_REDIRECT });
        subscriber.complete();
      };
      // Nothing is sent until every topic has started, so that every id names a position in each topic: a
      // reconnect then resumes all of them, and none restarts live past a notification this stream never sent.
      const topics = this.topics(viewer);
      const started = new Set<NotificationTopic>();
      let held: Array<[NotificationTopic, PublishedNotification]> | null = [];
      const send = (topic: NotificationTopic, notification: PublishedNotification) => {
        position[kindOf(topic)] = notification.seq;
        keepAlive.refresh();
        this.metrics.notificationsDelivered.inc();
        subscriber.next({
          id: formatStreamPosition(position),
          data: { message: notification.message, type: notification.type },
        });
      };
      const onStart = (topic: NotificationTopic) => (_lastSeq: number, startSeq: number) => {
        position[kindOf(topic)] = startSeq;
        started.add(topic);
        if (started.size < topics.length || !held) return;
        const pending = held;
        held = null;
        subscriber.next(STREAM_READY);
        for (const [from, notification] of pending) send(from, notification);
      };
      const onNotifications =
        (topic: NotificationTopic) => (notifications: readonly PublishedNotification[]) => {
          for (const notification of notifications) {
            if (held) held.push([topic, notification]);
            else send(topic, notification);
          }
        };
      const keep = (cleanup: () => void) => (closed ? cleanup() : cleanups.push(cleanup));

      // The credential the stream was opened with: a message ends it at once (logout, revocation, on any
      // replica); a check every SSE_KEEPALIVE_SECONDS catches an expiry or a lost message.
      this.credentials
        .watch({ sessionId: viewer.sessionId, tokenDigest: viewer.tokenDigest }, redirect)
        .then(keep, (error: unknown) => subscriber.error(error));
      for (const topic of topics) {
        const options = { afterSeq: from[kindOf(topic)], onStart: onStart(topic) };
        this.hub.subscribe(topic, options, onNotifications(topic)).then(
          (subscription) => keep(() => subscription.close()),
          (error: unknown) => subscriber.error(error),
        );
      }
      return () => {
        closed = true;
        this.open.delete(subscriber);
        this.metrics.subscribers.dec({ transport: 'stream' });
        clearTimeout(keepAlive);
        for (const cleanup of cleanups.splice(0)) cleanup();
      };
    });
  }
}
