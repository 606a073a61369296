// How a long-lived connection ends with the credential it was opened with: /api/stream, and a scan's WebSocket and
// SSE streams. Without it a revoked token or a logged-out session would keep receiving what it was let in to see.
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { NotificationHub, REDIS_CLIENT, REDIS_KEYS, RedisKeys } from '@nso/events';
import Redis from 'ioredis';
import { digest } from '../auth/session.store';
import { TokensService } from '../tokens/tokens.service';

/** The credential a connection was opened with: a session (cookie) or an API token; neither for anonymous. */
export interface ConnectionCredential {
  /** The session id from the cookie. */
  sessionId?: string;
  /** The SHA-256 of the bearer token (api_tokens.token_hash). */
  tokenDigest?: string;
}

/** Watches credentials for their end, on every replica. */
@Injectable()
export class CredentialWatch {
  constructor(
    private readonly hub: NotificationHub,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    private readonly tokens: TokensService,
  ) {}

  /**
   * Calls `onEnd` (possibly more than once) when `credential` ends: at once when a logout or a revocation is
   * published (Notifier.sessionEnded / tokenRevoked, on any replica), else at the next check, every
   * SSE_KEEPALIVE_SECONDS, that finds the session key gone (read without renewing it: an open connection must not
   * keep a session alive for ever) or the token row gone. A check that cannot reach Redis or the database decides
   * nothing. Resolves, once the watch is in place, with the function that stops it; an anonymous credential is
   * not watched. Rejects when the revocation channel cannot be subscribed.
   */
  async watch(credential: ConnectionCredential, onEnd: () => void): Promise<() => void> {
    const watched = this.watchedOf(credential);
    if (!watched) return () => undefined;
    const stopMessages = await this.hub.watchCredential(watched.digest, onEnd);
    const check: NodeJS.Timeout = setInterval(() => {
      watched.isLive().then(
        (live) => !live && onEnd(),
        () => undefined,
      );
    }, this.config.sseKeepAliveMs);
    check.unref();
    return () => {
      clearInterval(check);
      stopMessages();
    };
  }

  private watchedOf(
    credential: ConnectionCredential,
  ): { digest: string; isLive(): Promise<boolean> } | undefined {
    if (credential.sessionId) {
      const sessionDigest = digest(credential.sessionId);
      const key = this.keys.session(sessionDigest);
      return { digest: sessionDigest, isLive: async () => (await this.redis.exists(key)) > 0 };
    }
    const tokenDigest = credential.tokenDigest;
    if (tokenDigest) return { digest: tokenDigest, isLive: () => this.tokens.isLive(tokenDigest) };
    return undefined;
  }
}
