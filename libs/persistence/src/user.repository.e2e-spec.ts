import { createTestDatabase, TEST_DATABASES, type TestDatabase } from '../../../test/support/database';
import { isDuplicateError } from './errors';
import { ProjectRepository } from './project.repository';
import { UserRepository, type UserInput } from './user.repository';

const input = (username: string, email: string | null = null): UserInput => ({
  username,
  email,
  passwordHash: 'scrypt$hash',
  role: 'user',
  firstName: null,
  lastName: null,
});

describe.each(TEST_DATABASES)('UserRepository and ProjectRepository on %s', (kind) => {
  let db: TestDatabase;
  let users: UserRepository;
  let projects: ProjectRepository;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    users = new UserRepository(db.orm.em);
    projects = new ProjectRepository(db.orm.em);
  });

  afterAll(async () => {
    await db?.cleanup();
  });

  it('stores users, finds them, and refuses a taken name or email with a duplicate error', async () => {
    const alice = await users.create(input('alice', 'alice@example.com'));
    await expect(users.findById(alice.id)).resolves.toMatchObject({ username: 'alice', role: 'user' });
    await expect(users.findByUsername('alice')).resolves.toMatchObject({ id: alice.id });
    await expect(users.usernameExists('alice')).resolves.toBe(true);
    await expect(users.emailExists('alice@example.com')).resolves.toBe(true);
    await expect(users.emailExists('bob@example.com')).resolves.toBe(false);
    for (const clash of [input('alice'), input('other', 'alice@example.com')]) {
      const error: unknown = await users.create(clash).catch((e: unknown) => e);
      expect(isDuplicateError(error)).toBe(true);
    }
    expect((await users.list()).map((u) => u.username)).toContain('alice');
  });

  it("authenticates a token by its digest, records its use, and deletes only the owner's token", async () => {
    const owner = await users.create(input('token-owner'));
    const other = await users.create(input('token-other'));
    const token = await users.createToken(owner.id, 'ci', 'digest-1');
    await expect(users.findTokenOwner('digest-1')).resolves.toEqual({
      tokenId: token.id,
      lastUsedAt: null,
      userId: owner.id,
      username: 'token-owner',
      role: 'user',
    });
    await expect(users.findTokenOwner('digest-unknown')).resolves.toBeNull();

    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    await users.touchToken(token.id, at);
    expect((await users.findTokenOwner('digest-1'))?.lastUsedAt?.getTime()).toBe(at.getTime());
    expect((await users.listTokens(owner.id)).map((t) => [t.name, t.lastUsedAt?.getTime()])).toEqual([
      ['ci', at.getTime()],
    ]);

    await expect(users.deleteToken(other.id, token.id)).resolves.toBeNull();
    await expect(users.tokenExists('digest-1')).resolves.toBe(true);
    await expect(users.deleteToken(owner.id, token.id)).resolves.toBe('digest-1');
    await expect(users.tokenExists('digest-1')).resolves.toBe(false);
    await expect(users.deleteToken(owner.id, token.id)).resolves.toBeNull();
  });

  it("stores projects per owner, unique by name, and finds the owner's default", async () => {
    const owner = await users.create(input('project-owner'));
    const other = await users.create(input('project-other'));
    const lab = await projects.create(owner.id, { name: 'Lab', description: 'loopback' });
    await expect(projects.nameExists(owner.id, 'Lab')).resolves.toBe(true);
    await expect(projects.nameExists(other.id, 'Lab')).resolves.toBe(false);
    const error: unknown = await projects.create(owner.id, { name: 'Lab' }).catch((e: unknown) => e);
    expect(isDuplicateError(error)).toBe(true);
    await expect(projects.findOwned(owner.id, lab.id)).resolves.toMatchObject({ description: 'loopback' });
    await expect(projects.findOwned(other.id, lab.id)).resolves.toBeNull();

    await expect(projects.findDefault(owner.id)).resolves.toBeNull();
    const def = await projects.create(owner.id, { name: 'Default', isDefault: true });
    await expect(projects.findDefault(owner.id)).resolves.toMatchObject({ id: def.id, isDefault: true });
    expect((await projects.listOwned(owner.id)).map((p) => [p.name, p.isDefault])).toEqual([
      ['Lab', false],
      ['Default', true],
    ]);
  });
});
