import { EntityManager } from '@mikro-orm/core';
import { Injectable, NotFoundException } from '@nestjs/common';
import { ApiToken, User } from '@nso/persistence';
import { randomBytes } from 'node:crypto';
import { digest } from '../auth/session.store';
import { CreatedTokenDto, TokenDto } from './tokens.dto';

/** API tokens: a random secret shown once; only its SHA-256 is stored, so a database leak reveals none. */
@Injectable()
export class TokensService {
  constructor(private readonly em: EntityManager) {}

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

  /** Deleting the row revokes the token at once: every request looks its digest up. */
  async revoke(userId: number, tokenId: number): Promise<void> {
    const deleted = await this.em.fork().nativeDelete(ApiToken, { id: tokenId, user: userId });
    if (deleted === 0) throw new NotFoundException({ error: 'Token not found' });
  }
}
