import { EntityManager } from '@mikro-orm/core';
import { Injectable } from '@nestjs/common';
import { knexOf, User } from '@nso/persistence';
import type { IncomingMessage } from 'node:http';
import { readCookie, SESSION_COOKIE } from '../auth/cookies';
import { digest, SessionStore } from '../auth/session.store';
import { AuthMethod, AuthUser } from './current-user';

export interface Resolved {
  user?: AuthUser;
  method?: AuthMethod;
  sessionId?: string;
  /** The token's SHA-256, as api_tokens.token_hash stores it (method `token` only). */
  tokenDigest?: string;
  error?: string;
}

/** How often a token's last_used_at is written, at most. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Who a request (HTTP or WebSocket upgrade) acts as: a bearer token first, else the session cookie. */
@Injectable()
export class CurrentUserResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly sessions: SessionStore,
  ) {}

  async resolve(request: IncomingMessage): Promise<Resolved> {
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) return { error: 'Authorization must be "Bearer <token>"' };
      return this.fromToken(match[1]);
    }
    const sessionId = readCookie(request, SESSION_COOKIE);
    if (sessionId === undefined) return {};
    const session = await this.sessions.touch(sessionId);
    if (!session) return { error: 'Session expired; log in again' };
    const user = await this.em.fork().findOne(User, session.userId);
    if (!user) return { error: 'Session expired; log in again' };
    return { user: toAuthUser(user), method: 'session', sessionId };
  }

  /** One indexed join per request, through knex (see @nso/persistence sql.ts): every API call pays for it. */
  private async fromToken(token: string): Promise<Resolved> {
    const knex = knexOf(this.em);
    const tokenDigest = digest(token);
    const record: TokenRow | undefined = await knex('api_tokens as t')
      .join('users as u', 'u.id', 't.user_id')
      .select('t.id', 't.last_used_at', 'u.id as user_id', 'u.username', 'u.role')
      .where('t.token_hash', tokenDigest)
      .first();
    if (!record) return { error: 'Invalid or revoked token' };
    const now = new Date();
    const lastUsed = record.last_used_at === null ? undefined : new Date(record.last_used_at).getTime();
    if (lastUsed === undefined || now.getTime() - lastUsed > LAST_USED_RESOLUTION_MS) {
      await knex('api_tokens').where({ id: record.id }).update({ last_used_at: now });
    }
    return {
      user: { id: Number(record.user_id), username: record.username, role: record.role },
      method: 'token',
      tokenDigest,
    };
  }
}

/** A token with its user; timestamps come back as Date (PostgreSQL) or epoch milliseconds (SQLite). */
interface TokenRow {
  id: number;
  last_used_at: Date | number | string | null;
  user_id: number;
  username: string;
  role: AuthUser['role'];
}

export const toAuthUser = (user: User): AuthUser => ({
  id: user.id,
  username: user.username,
  role: user.role,
});
