// Login sessions in Redis, so that every gateway replica accepts every session. The cookie carries a random
// id; Redis holds only its SHA-256, so a leaked Redis dump holds no usable session.
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { Notifier, REDIS_CLIENT, REDIS_KEYS, RedisKeys } from '@nso/events';
import Redis from 'ioredis';
import { createHash, randomBytes } from 'node:crypto';

export interface Session {
  userId: number;
  remember: boolean;
  createdAt: string;
}

export const digest = (secret: string): string => createHash('sha256').update(secret).digest('hex');

@Injectable()
export class SessionStore {
  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly notifier: Notifier,
  ) {}

  ttlSeconds(remember: boolean): number {
    return remember ? this.config.rememberTtlSeconds : this.config.sessionTtlSeconds;
  }

  async create(userId: number, remember: boolean): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const session: Session = { userId, remember, createdAt: new Date().toISOString() };
    await this.redis.set(this.key(id), JSON.stringify(session), 'EX', this.ttlSeconds(remember));
    return id;
  }

  /** The session, its idle timeout renewed; undefined when unknown or expired. */
  async touch(id: string): Promise<Session | undefined> {
    const key = this.key(id);
    const text = await this.redis.get(key);
    if (!text) return undefined;
    const session = JSON.parse(text) as Session;
    if (!session.remember) await this.redis.expire(key, this.ttlSeconds(false));
    return session;
  }

  /** Ends the session; `/api/stream` subscribers on it (any replica) get the login redirect. */
  async destroy(id: string): Promise<void> {
    await this.redis.del(this.key(id));
    await this.notifier.sessionEnded(digest(id));
  }

  private key(id: string): string {
    return this.keys.session(digest(id));
  }
}
