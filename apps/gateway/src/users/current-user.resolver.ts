import { EntityManager } from '@mikro-orm/core';
import { Injectable } from '@nestjs/common';
import { ApiToken, User } from '@nso/persistence';
import type { IncomingMessage } from 'node:http';
import { readCookie, SESSION_COOKIE } from '../auth/cookies';
import { digest, SessionStore } from '../auth/session.store';
import { AuthMethod, AuthUser } from './current-user';

export interface Resolved {
  user?: AuthUser;
  method?: AuthMethod;
  sessionId?: string;
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

  private async fromToken(token: string): Promise<Resolved> {
    const em = this.em.fork();
    const record = await em.findOne(
      ApiToken,
      { tokenHash: digest(token) },
      { populate: ['user'], strategy: 'joined' },
    );
    if (!record) return { error: 'Invalid or revoked token' };
    const now = new Date();
    if (!record.lastUsedAt || now.getTime() - record.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await em.nativeUpdate(ApiToken, { id: record.id }, { lastUsedAt: now });
    }
    return { user: toAuthUser(record.user), method: 'token' };
  }
}

export const toAuthUser = (user: User): AuthUser => ({
  id: user.id,
  username: user.username,
  role: user.role,
});
