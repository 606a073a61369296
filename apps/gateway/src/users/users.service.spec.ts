import { UnauthorizedException } from '@nestjs/common';
import { loadConfig } from '@nso/config';
import { verifyPassword } from '../auth/passwords';
import { duplicateError, FakeUserRepository } from './user-repository.fake';
import { UsersService } from './users.service';

function setup(env: Record<string, string> = {}) {
  const repository = new FakeUserRepository();
  const users = new UsersService(repository.asRepository(), loadConfig(env));
  return { users, repository };
}

describe('UsersService', () => {
  it('stores a user with its name and email lower-cased and only a hash of its password', async () => {
    const { users, repository } = setup();
    const created = await users.create({
      username: 'Alice',
      email: 'Alice@Example.COM',
      password: 'Correct-Horse-9',
      role: 'user',
      firstName: 'Alice',
    });
    expect(repository.users).toEqual([
      expect.objectContaining({
        id: created.id,
        username: 'alice',
        email: 'alice@example.com',
        role: 'user',
        firstName: 'Alice',
        lastName: null,
      }),
    ]);
    const stored = repository.users[0].passwordHash;
    expect(stored).not.toContain('Correct-Horse-9');
    await expect(verifyPassword('Correct-Horse-9', stored)).resolves.toBe(true);
  });

  it('finds users and says which names and emails are taken, whatever their case', async () => {
    const { users } = setup();
    await users.create({ username: 'bob', email: 'bob@example.com', password: 'Pass-Word-12', role: 'user' });
    await expect(users.findByUsername('BOB')).resolves.toMatchObject({ username: 'bob' });
    await expect(users.findByUsername('carol')).resolves.toBeNull();
    await expect(users.taken('Bob', 'other@example.com')).resolves.toEqual({ username: true, email: false });
    await expect(users.taken('carol', 'BOB@example.com')).resolves.toEqual({ username: false, email: true });
    await expect(users.taken('carol', null)).resolves.toEqual({ username: false, email: false });
  });

  it('describes a user as GET /api/me shows it, and answers 401 for a user that is gone', async () => {
    const { users } = setup();
    const bob = await users.create({ username: 'bob', email: null, password: 'Pass-Word-12', role: 'admin' });
    await expect(users.describe(bob.id)).resolves.toEqual({
      id: bob.id,
      username: 'bob',
      email: null,
      role: 'admin',
      first_name: null,
      last_name: null,
    });
    await expect(users.describe(bob.id + 1)).rejects.toBeInstanceOf(UnauthorizedException);
  });

  it('lists every user by id, without password hashes', async () => {
    const { users } = setup();
    await users.create({ username: 'b', email: null, password: 'Pass-Word-12', role: 'user' });
    await users.create({ username: 'a', email: 'a@example.com', password: 'Pass-Word-12', role: 'admin' });
    const listed = await users.list();
    expect(listed.map((u) => [u.id, u.username, u.email, u.role])).toEqual([
      [1, 'b', null, 'user'],
      [2, 'a', 'a@example.com', 'admin'],
    ]);
    expect(listed[0]).not.toHaveProperty('passwordHash');
    expect(listed[0].created_at).toBeInstanceOf(Date);
  });

  describe('the first admin', () => {
    it('is created from ADMIN_USERNAME and ADMIN_PASSWORD when missing', async () => {
      const { users, repository } = setup({ ADMIN_USERNAME: 'Root', ADMIN_PASSWORD: 'Admin-Pass-123' });
      await users.onApplicationBootstrap();
      expect(repository.users).toEqual([expect.objectContaining({ username: 'root', role: 'admin' })]);
      await users.onApplicationBootstrap(); // a restart
      expect(repository.users).toHaveLength(1);
    });

    it('is not created without ADMIN_PASSWORD', async () => {
      const { users, repository } = setup();
      await users.onApplicationBootstrap();
      expect(repository.users).toEqual([]);
    });

    it('created by another replica at the same moment is no error; other errors are', async () => {
      const { users, repository } = setup({ ADMIN_PASSWORD: 'Admin-Pass-123' });
      repository.create = () => Promise.reject(duplicateError());
      await expect(users.onApplicationBootstrap()).resolves.toBeUndefined();
      repository.create = () => Promise.reject(new Error('database is down'));
      await expect(users.onApplicationBootstrap()).rejects.toThrow('database is down');
    });
  });
});
