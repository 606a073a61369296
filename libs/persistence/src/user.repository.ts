// The users and api_tokens tables: accounts and their bearer tokens. This is their only writer. Names and emails
// arrive as the caller normalised them (the gateway lower-cases both); secrets arrive hashed.
import type { EntityManager } from '@mikro-orm/core';
import { ApiToken, User, type UserRole } from './entities';
import { knexOf } from './sql';

/** A new account: `passwordHash` as stored (scrypt, see the gateway's passwords.ts); null names none. */
export interface UserInput {
  username: string;
  email: string | null;
  passwordHash: string;
  role: UserRole;
  firstName: string | null;
  lastName: string | null;
}

/** The token a bearer digest names, with its owner: what authenticating a request needs, in one row. */
export interface TokenOwner {
  tokenId: number;
  /** When the token was last used (written at most once a minute by the caller), or null if never. */
  lastUsedAt: Date | null;
  userId: number;
  username: string;
  role: UserRole;
}

/** A token row as the knex join returns it: timestamps are Date (PostgreSQL) or epoch milliseconds (SQLite). */
interface TokenOwnerRow {
  id: number | string;
  last_used_at: Date | number | string | null;
  user_id: number | string;
  username: string;
  role: UserRole;
}

/** Provided by PersistenceModule, created after the migrations. */
export class UserRepository {
  constructor(private readonly em: EntityManager) {}

  /** Stores a new user and returns it with its id. Throws a duplicate error (isDuplicateError) for a taken name or email. */
  async create(input: UserInput): Promise<User> {
    const em = this.em.fork();
    const user = em.create(User, {
      username: input.username,
      email: input.email,
      passwordHash: input.passwordHash,
      role: input.role,
      firstName: input.firstName,
      lastName: input.lastName,
    });
    await em.flush();
    return user;
  }

  /** The user with this id, or null. */
  findById(id: number): Promise<User | null> {
    return this.em.fork().findOne(User, id);
  }

  /** The user with exactly this (stored, lower-case) username, or null. */
  findByUsername(username: string): Promise<User | null> {
    return this.em.fork().findOne(User, { username });
  }

  /** Whether a user has exactly this username. */
  async usernameExists(username: string): Promise<boolean> {
    return (await this.em.fork().count(User, { username })) > 0;
  }

  /** Whether a user has exactly this email. */
  async emailExists(email: string): Promise<boolean> {
    return (await this.em.fork().count(User, { email })) > 0;
  }

  /** Every user, by id. */
  list(): Promise<User[]> {
    return this.em.fork().find(User, {}, { orderBy: { id: 'asc' } });
  }

  /** Stores a token of `userId` under the SHA-256 `tokenHash` of its secret; returns the row with its id. */
  async createToken(userId: number, name: string, tokenHash: string): Promise<ApiToken> {
    const em = this.em.fork();
    const token = em.create(ApiToken, { user: em.getReference(User, userId), name, tokenHash });
    await em.flush();
    return token;
  }

  /** The user's tokens, by id (their secrets are not stored). */
  listTokens(userId: number): Promise<ApiToken[]> {
    return this.em.fork().find(ApiToken, { user: userId }, { orderBy: { id: 'asc' } });
  }

  /**
   * Deletes token `tokenId` of `userId` and returns the digest it had; null when the user has no such token
   * (unknown id, another user's token, or deleted meanwhile).
   */
  async deleteToken(userId: number, tokenId: number): Promise<string | null> {
    const em = this.em.fork();
    const token = await em.findOne(ApiToken, { id: tokenId, user: userId }, { fields: ['tokenHash'] });
    if (!token) return null;
    const deleted = await em.nativeDelete(ApiToken, { id: tokenId, user: userId });
    return deleted === 0 ? null : token.tokenHash;
  }

  /** Whether a token with this SHA-256 exists (one indexed lookup). */
  async tokenExists(tokenHash: string): Promise<boolean> {
    return (await this.em.fork().count(ApiToken, { tokenHash })) > 0;
  }

  /**
   * The token with this SHA-256 and its user, or null. One indexed join through knex (sql.ts): every API call
   * with a bearer token pays for it.
   */
  async findTokenOwner(tokenHash: string): Promise<TokenOwner | null> {
    const row: TokenOwnerRow | undefined = await knexOf(this.em)('api_tokens as t')
      .join('users as u', 'u.id', 't.user_id')
      .select('t.id', 't.last_used_at', 'u.id as user_id', 'u.username', 'u.role')
      .where('t.token_hash', tokenHash)
      .first();
    if (!row) return null;
    return {
      tokenId: Number(row.id),
      lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
      userId: Number(row.user_id),
      username: row.username,
      role: row.role,
    };
  }

  /** Records that token `tokenId` was used at `at` (api_tokens.last_used_at). */
  async touchToken(tokenId: number, at: Date): Promise<void> {
    await knexOf(this.em)('api_tokens').where({ id: tokenId }).update({ last_used_at: at });
  }
}
