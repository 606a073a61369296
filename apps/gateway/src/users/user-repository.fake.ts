// An in-memory UserRepository for the unit specs of the account services (users, tokens, the request's user):
// the rows it "saved" are in `users` and `tokens`, unique names, emails and digests as the database enforces them.
import type { ApiToken, TokenOwner, User, UserInput, UserRepository } from '@nso/persistence';

type Methods =
  | 'create'
  | 'findById'
  | 'findByUsername'
  | 'usernameExists'
  | 'emailExists'
  | 'list'
  | 'createToken'
  | 'listTokens'
  | 'deleteToken'
  | 'tokenExists'
  | 'findTokenOwner'
  | 'touchToken';

/** A token row of the fake: ApiToken's fields, with its owner's id. */
export interface FakeToken {
  id: number;
  userId: number;
  name: string;
  tokenHash: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** What the database answers to a write that breaks a unique index (isDuplicateError is true for it). */
export const duplicateError = (): Error => Object.assign(new Error('duplicate key value'), { code: '23505' });

/** The fake; `asRepository()` gives it the type the services take. */
export class FakeUserRepository implements Pick<UserRepository, Methods> {
  readonly users: User[] = [];
  readonly tokens: FakeToken[] = [];
  /** Every touchToken call, in order. */
  readonly touches: Array<{ tokenId: number; at: Date }> = [];
  private nextId = 1;

  asRepository(): UserRepository {
    return this as unknown as UserRepository;
  }

  create(input: UserInput): Promise<User> {
    const clash = this.users.some(
      (u) => u.username === input.username || (input.email !== null && u.email === input.email),
    );
    if (clash) return Promise.reject(duplicateError());
    const now = new Date();
    const user = { id: this.nextId++, ...input, createdAt: now, updatedAt: now } as User;
    this.users.push(user);
    return Promise.resolve(user);
  }

  findById(id: number): Promise<User | null> {
    return Promise.resolve(this.users.find((u) => u.id === id) ?? null);
  }

  findByUsername(username: string): Promise<User | null> {
    return Promise.resolve(this.users.find((u) => u.username === username) ?? null);
  }

  usernameExists(username: string): Promise<boolean> {
    return Promise.resolve(this.users.some((u) => u.username === username));
  }

  emailExists(email: string): Promise<boolean> {
    return Promise.resolve(this.users.some((u) => u.email === email));
  }

  list(): Promise<User[]> {
    return Promise.resolve([...this.users].sort((a, b) => a.id - b.id));
  }

  createToken(userId: number, name: string, tokenHash: string): Promise<ApiToken> {
    if (this.tokens.some((t) => t.tokenHash === tokenHash)) return Promise.reject(duplicateError());
    const token: FakeToken = {
      id: this.nextId++,
      userId,
      name,
      tokenHash,
      createdAt: new Date(),
      lastUsedAt: null,
    };
    this.tokens.push(token);
    return Promise.resolve(token as unknown as ApiToken);
  }

  listTokens(userId: number): Promise<ApiToken[]> {
    const own = this.tokens.filter((t) => t.userId === userId).sort((a, b) => a.id - b.id);
    return Promise.resolve(own as unknown as ApiToken[]);
  }

  deleteToken(userId: number, tokenId: number): Promise<string | null> {
    const index = this.tokens.findIndex((t) => t.id === tokenId && t.userId === userId);
    if (index < 0) return Promise.resolve(null);
    const [token] = this.tokens.splice(index, 1);
    return Promise.resolve(token.tokenHash);
  }

  tokenExists(tokenHash: string): Promise<boolean> {
    return Promise.resolve(this.tokens.some((t) => t.tokenHash === tokenHash));
  }

  findTokenOwner(tokenHash: string): Promise<TokenOwner | null> {
    const token = this.tokens.find((t) => t.tokenHash === tokenHash);
    const user = token && this.users.find((u) => u.id === token.userId);
    if (!token || !user) return Promise.resolve(null);
    return Promise.resolve({
      tokenId: token.id,
      lastUsedAt: token.lastUsedAt,
      userId: user.id,
      username: user.username,
      role: user.role,
    });
  }

  touchToken(tokenId: number, at: Date): Promise<void> {
    this.touches.push({ tokenId, at });
    const token = this.tokens.find((t) => t.id === tokenId);
    if (token) token.lastUsedAt = at;
    return Promise.resolve();
  }
}
