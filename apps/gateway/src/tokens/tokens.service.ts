import { Injectable, Logger, NotFoundException } from '@nestjs/common';
import { Notifier } from '@nso/events';
import { UserRepository } from '@nso/persistence';
import { randomBytes } from 'node:crypto';
import { digest } from '../auth/session.store';
import { CreatedTokenDto, TokenDto } from './tokens.dto';

/** API tokens: a random secret shown once; only its SHA-256 is stored, so a database leak reveals none. */
@Injectable()
export class TokensService {
  private readonly logger = new Logger(TokensService.name);

  constructor(
    private readonly users: UserRepository,
    private readonly notifier: Notifier,
  ) {}

  /** A new token of the user: its secret (`nso_` and 43 base64url characters) is in this answer only. */
  async create(userId: number, name: string): Promise<CreatedTokenDto> {
    const token = `nso_${randomBytes(32).toString('base64url')}`;
    const record = await this.users.createToken(userId, name, digest(token));
    return { id: record.id, name: record.name, token };
  }

  /** The user's tokens, by id, without their secrets. */
  async list(userId: number): Promise<TokenDto[]> {
    const tokens = await this.users.listTokens(userId);
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
    const tokenHash = await this.users.deleteToken(userId, tokenId);
    if (tokenHash === null) throw new NotFoundException({ error: 'Token not found' });
    await this.notifier.tokenRevoked(tokenHash).catch((error: Error) => {
      this.logger.warn(`telling the streams of token ${tokenId} it was revoked failed: ${error.message}`);
    });
  }

  /** Whether a token with this SHA-256 still exists (one indexed lookup); a stream opened with it checks. */
  isLive(tokenDigest: string): Promise<boolean> {
    return this.users.tokenExists(tokenDigest);
  }
}
