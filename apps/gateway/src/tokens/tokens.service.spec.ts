import { NotFoundException } from '@nestjs/common';
import type { Notifier } from '@nso/events';
import { digest } from '../auth/session.store';
import { FakeUserRepository } from '../users/user-repository.fake';
import { TokensService } from './tokens.service';

/** Records the revocations told to the streams; `fail` makes telling them fail. */
class FakeNotifier {
  revoked: string[] = [];
  fail = false;
  tokenRevoked(tokenDigest: string): Promise<void> {
    if (this.fail) return Promise.reject(new Error('redis is down'));
    this.revoked.push(tokenDigest);
    return Promise.resolve();
  }
}

function setup() {
  const repository = new FakeUserRepository();
  const notifier = new FakeNotifier();
  const tokens = new TokensService(repository.asRepository(), notifier as unknown as Notifier);
  return { tokens, repository, notifier };
}

describe('TokensService', () => {
  it('answers the secret once and stores only its SHA-256', async () => {
    const { tokens, repository } = setup();
    const created = await tokens.create(7, 'ci');
    expect(created).toEqual({
      id: expect.any(Number),
      name: 'ci',
      token: expect.stringMatching(/^nso_[\w-]{43}$/),
    });
    expect(repository.tokens).toEqual([
      expect.objectContaining({ id: created.id, userId: 7, name: 'ci', tokenHash: digest(created.token) }),
    ]);
    expect(JSON.stringify(repository.tokens)).not.toContain(created.token);
    await expect(tokens.isLive(digest(created.token))).resolves.toBe(true);
  });

  it("lists the user's own tokens by id, without secrets", async () => {
    const { tokens } = setup();
    const first = await tokens.create(7, 'first');
    await tokens.create(8, 'not mine');
    const second = await tokens.create(7, 'second');
    const listed = await tokens.list(7);
    expect(listed).toEqual([
      { id: first.id, name: 'first', created_at: expect.any(Date), last_used_at: null },
      { id: second.id, name: 'second', created_at: expect.any(Date), last_used_at: null },
    ]);
  });

  it('revokes a token: the row is gone, its streams are told, and it is no longer live', async () => {
    const { tokens, repository, notifier } = setup();
    const created = await tokens.create(7, 'ci');
    await tokens.revoke(7, created.id);
    expect(repository.tokens).toEqual([]);
    expect(notifier.revoked).toEqual([digest(created.token)]);
    await expect(tokens.isLive(digest(created.token))).resolves.toBe(false);
  });

  it("answers 404 for an unknown id and for another user's token, which stays", async () => {
    const { tokens, repository, notifier } = setup();
    const created = await tokens.create(7, 'ci');
    await expect(tokens.revoke(8, created.id)).rejects.toThrow(NotFoundException);
    await expect(tokens.revoke(7, created.id + 100)).rejects.toMatchObject({
      response: { error: 'Token not found' },
    });
    expect(repository.tokens).toHaveLength(1);
    expect(notifier.revoked).toEqual([]);
  });

  it('revokes even when telling the streams fails (they find out at their next check)', async () => {
    const { tokens, repository, notifier } = setup();
    const created = await tokens.create(7, 'ci');
    notifier.fail = true;
    await expect(tokens.revoke(7, created.id)).resolves.toBeUndefined();
    expect(repository.tokens).toEqual([]);
  });
});
