import { BadRequestException, ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { loadConfig } from '@nso/config';
import { LoginThrottle } from '../rate-limit/login-throttle.service';
import { FakeUserRepository } from '../users/user-repository.fake';
import { UsersService } from '../users/users.service';
import { AuthService } from './auth.service';
import { hashPassword } from './passwords';
import { SessionStore } from './session.store';

/** Records how each login attempt ended; the real one keeps these in Redis (test/rate-limit covers that). */
class FakeThrottle {
  ends: string[] = [];
  assertAllowed = () => Promise.resolve();
  recordFailure = () => Promise.resolve(void this.ends.push('failure'));
  recordSuccess = () => Promise.resolve(void this.ends.push('success'));
  release = () => Promise.resolve(void this.ends.push('released'));
}

async function setup(findByUsername: () => Promise<unknown>, createSession = () => Promise.resolve('sid')) {
  const throttle = new FakeThrottle();
  const users = { findByUsername } as unknown as UsersService;
  const sessions = { create: createSession, ttlSeconds: () => 60 } as unknown as SessionStore;
  const auth = new AuthService(users, sessions, throttle as unknown as LoginThrottle, loadConfig({}));
  return { auth, throttle };
}

describe('AuthService.login ends its attempt on every path', () => {
  const login = { username: 'admin', password: 'Right-Pass-1' };
  let passwordHash: string;
  beforeAll(async () => {
    passwordHash = await hashPassword(login.password);
  });

  it('as a success', async () => {
    const { auth, throttle } = await setup(() => Promise.resolve({ id: 1, passwordHash }));
    await expect(auth.login(login, '127.0.0.1')).resolves.toEqual({ sessionId: 'sid' });
    expect(throttle.ends).toEqual(['success']);
  });

  it('as a failure for wrong credentials', async () => {
    const { auth, throttle } = await setup(() => Promise.resolve(null));
    await expect(auth.login(login, '127.0.0.1')).rejects.toBeInstanceOf(UnauthorizedException);
    expect(throttle.ends).toEqual(['failure']);
  });

  it('released when reading the user fails (a database error is no verdict on the password)', async () => {
    const { auth, throttle } = await setup(() => Promise.reject(new Error('database is down')));
    await expect(auth.login(login, '127.0.0.1')).rejects.toThrow('database is down');
    expect(throttle.ends).toEqual(['released']);
  });
});

describe('AuthService.register', () => {
  const form = {
    username: 'Carol',
    email: 'carol@example.com',
    password: 'Strong-Pass-9',
    confirm_password: 'Strong-Pass-9',
    first_name: 'Carol',
  };

  function setupRegister(env: Record<string, string> = { REGISTRATION_OPEN: 'true' }) {
    const repository = new FakeUserRepository();
    const users = new UsersService(repository.asRepository(), loadConfig(env));
    const sessions = {
      create: () => Promise.resolve('sid'),
      ttlSeconds: () => 60,
    } as unknown as SessionStore;
    const auth = new AuthService(
      users,
      sessions,
      new FakeThrottle() as unknown as LoginThrottle,
      loadConfig(env),
    );
    return { auth, repository };
  }

  it('stores the user (role user, name lower-cased) and signs it in', async () => {
    const { auth, repository } = setupRegister();
    await expect(auth.register(form)).resolves.toEqual({ sessionId: 'sid' });
    expect(repository.users).toEqual([
      expect.objectContaining({
        username: 'carol',
        email: 'carol@example.com',
        role: 'user',
        firstName: 'Carol',
      }),
    ]);
  });

  it('answers 400 naming every problem, and stores nothing', async () => {
    const { auth, repository } = setupRegister();
    await auth.register(form);
    const error = await auth
      .register({ ...form, username: 'CAROL', password: 'weak', confirm_password: 'other' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestException);
    expect((error as BadRequestException).getResponse()).toMatchObject({
      invalid_fields: {
        username: 'username is already taken',
        email: 'email is already registered',
        password: expect.stringMatching(/^password must be at least 8/),
        confirm_password: 'confirm_password does not match password',
      },
    });
    expect(repository.users).toHaveLength(1);
  });

  it('answers 400 when a racing registration took the name first', async () => {
    const { auth, repository } = setupRegister();
    repository.usernameExists = () => Promise.resolve(false); // the check ran before the other request stored it
    repository.emailExists = () => Promise.resolve(false);
    await auth.register(form);
    await expect(auth.register(form)).rejects.toMatchObject({
      response: { invalid_fields: { username: 'username or email is already registered' } },
    });
  });

  it('answers 403 when registration is closed', async () => {
    const { auth, repository } = setupRegister({ REGISTRATION_OPEN: 'false' });
    await expect(auth.register(form)).rejects.toBeInstanceOf(ForbiddenException);
    expect(repository.users).toEqual([]);
  });
});
