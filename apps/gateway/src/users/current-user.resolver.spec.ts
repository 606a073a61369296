import type { IncomingMessage } from 'node:http';
import { digest, SessionStore } from '../auth/session.store';
import { CurrentUserResolver } from './current-user.resolver';
import { FakeUserRepository } from './user-repository.fake';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

async function setup() {
  const repository = new FakeUserRepository();
  const alice = await repository.create({
    username: 'alice',
    email: null,
    passwordHash: 'hash',
    role: 'admin',
    firstName: null,
    lastName: null,
  });
  const sessions = new Map([['sid-1', { userId: alice.id }]]);
  const store = { touch: (id: string) => Promise.resolve(sessions.get(id)) } as unknown as SessionStore;
  const resolver = new CurrentUserResolver(repository.asRepository(), store);
  return { resolver, repository, alice };
}

describe('CurrentUserResolver', () => {
  it('resolves a bearer token to its user and records its first use', async () => {
    const { resolver, repository, alice } = await setup();
    const token = await repository.createToken(alice.id, 'ci', digest('nso_secret'));
    const resolved = await resolver.resolve(request({ authorization: 'Bearer nso_secret' }));
    expect(resolved).toEqual({
      user: { id: alice.id, username: 'alice', role: 'admin' },
      method: 'token',
      tokenDigest: digest('nso_secret'),
    });
    expect(repository.touches).toEqual([{ tokenId: token.id, at: expect.any(Date) }]);
  });

  it('writes last_used_at at most once a minute', async () => {
    const { resolver, repository, alice } = await setup();
    await repository.createToken(alice.id, 'ci', digest('nso_secret'));
    repository.tokens[0].lastUsedAt = new Date(Date.now() - 30_000);
    await resolver.resolve(request({ authorization: 'Bearer nso_secret' }));
    expect(repository.touches).toEqual([]);
    repository.tokens[0].lastUsedAt = new Date(Date.now() - 61_000);
    await resolver.resolve(request({ authorization: 'Bearer nso_secret' }));
    expect(repository.touches).toHaveLength(1);
  });

  it('refuses an unknown token and a malformed header, without falling back to the cookie', async () => {
    const { resolver } = await setup();
    await expect(resolver.resolve(request({ authorization: 'Bearer nso_unknown' }))).resolves.toEqual({
      error: 'Invalid or revoked token',
    });
    await expect(
      resolver.resolve(request({ authorization: 'Token abc', cookie: 'nso_session=sid-1' })),
    ).resolves.toEqual({ error: 'Authorization must be "Bearer <token>"' });
  });

  it('resolves the session cookie to its user, and an expired session or a deleted user to an error', async () => {
    const { resolver, repository, alice } = await setup();
    await expect(resolver.resolve(request({ cookie: 'nso_session=sid-1' }))).resolves.toEqual({
      user: { id: alice.id, username: 'alice', role: 'admin' },
      method: 'session',
      sessionId: 'sid-1',
    });
    await expect(resolver.resolve(request({ cookie: 'nso_session=sid-2' }))).resolves.toEqual({
      error: 'Session expired; log in again',
    });
    repository.users.length = 0;
    await expect(resolver.resolve(request({ cookie: 'nso_session=sid-1' }))).resolves.toEqual({
      error: 'Session expired; log in again',
    });
  });

  it('resolves no credentials to no user', async () => {
    const { resolver } = await setup();
    await expect(resolver.resolve(request({}))).resolves.toEqual({});
  });
});
