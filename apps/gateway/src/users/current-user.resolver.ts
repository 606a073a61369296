import { Injectable } from '@nestjs/common';
import { UserRepository, type User } from '@nso/persistence';
import type { IncomingMessage } from 'node:http';
import { readCookie, SESSION_COOKIE } from '../auth/cookies';
import { digest, SessionStore } from '../auth/session.store';
import { AuthMethod, AuthUser } from './current-user';

/** Who a request acts as, and how it proved it; `error` says why credentials that were sent were refused. */
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
    private readonly users: UserRepository,
    private readonly sessions: SessionStore,
  ) {}

  /**
   * The request's user: from `Authorization: Bearer <token>` when the header is there (a malformed header or an
   * unknown token is an `error`, never a fall-back to the cookie), else from the session cookie (touched, so it
   * lives on). No credentials at all resolve to `{}`.
   */
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
    const user = await this.users.findById(session.userId);
    if (!user) return { error: 'Session expired; log in again' };
    return { user: toAuthUser(user), method: 'session', sessionId };
  }

  /** One indexed lookup per request (UserRepository.findTokenOwner); last_used_at written at most once a minute. */
  private async fromToken(token: string): Promise<Resolved> {
    const tokenDigest = digest(token);
    const owner = await this.users.findTokenOwner(tokenDigest);
    if (!owner) return { error: 'Invalid or revoked token' };
    const now = new Date();
    const lastUsed = owner.lastUsedAt?.getTime();
    if (lastUsed === undefined || now.getTime() - lastUsed > LAST_USED_RESOLUTION_MS) {
      await this.users.touchToken(owner.tokenId, now);
    }
    return {
      user: { id: owner.userId, username: owner.username, role: owner.role },
      method: 'token',
      tokenDigest,
    };
  }
}

/** The fields of a user row a request carries as its identity. */
export const toAuthUser = (user: User): AuthUser => ({
  id: user.id,
  username: user.username,
  role: user.role,
});
