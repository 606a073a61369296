import { EntityManager } from '@mikro-orm/core';
import { Injectable, Logger, NotFoundException } from '@nestjs/common';
import { Notifier } from '@nso/events';
import { ApiToken, User } from '@nso/persistence';
import { randomBytes } from 'node:crypto';
import { digest } from '../auth/session.store';
import { CreatedTokenDto, TokenDto } from './tokens.dto';

/** API tokens: a random secret shown once; only its SHA-256 is stored, so a database leak reveals none. */
@Injectable()
export class TokensService {
  private readonly logger = new Logger(TokensService.name);

  constructor(
    private readonly em: EntityManager,
    private readonly notifier: Notifier,
  ) {}

  async create(userId: number, name: string): Promise<CreatedTokenDto> {
    const token = `nso_${randomBytes(32).toString('base64url')}`;
    const em = this.em.fork();
    const record = em.create(ApiToken, {
      user: em.getReference(User, userId),
      name,
      tokenHash: digest(token),
    });
    await em.flush();
    return { id: record.id, name: record.name, token };
  }

  async list(userId: number): Promise<TokenDto[]> {
    const tokens = await this.em.fork().find(ApiToken, { user: userId }, { orderBy: { id: 'asc' } });
    return tokens.map((t) => ({
      id: t.id,
      name: t.name,
      created_at: t.createdAt,
      last_used_at: t.lastUsedAt,
    }));
  }

  /**
   * Deleting the row revokes the token at once: every request looks its digest up. Its open `/api/stream`s, on
   * every replica, are told (the login redirect, then the end); should that message fail, they notice at their
   * next check (isLive). Errors: 404 `{"error": "Token not found"}` for an unknown id or another user's token.
   */
  async revoke(userId: number, tokenId: number): Promise<void> {
    const em = this.em.fork();
    const token = await em.findOne(ApiToken, { id: tokenId, user: userId }, { fields: ['tokenHash'] });
    const deleted = token ? await em.nativeDelete(ApiToken, { id: tokenId, user: userId }) : 0;
    if (!token || deleted === 0) throw new NotFoundException({ error: 'Token not found' });
    await this.notifier.tokenRevoked(token.tokenHash).catch((error: Error) => {
      this.logger.warn(`telling the streams of token ${tokenId} it was revoked failed: ${error.message}`);
    });
  }

  /** Whether a token with this SHA-256 still exists (one indexed lookup); a stream opened with it checks. */
  async isLive(tokenDigest: string): Promise<boolean> {
    return (await this.em.fork().count(ApiToken, { tokenHash: tokenDigest })) > 0;
  }
}
