import { UnauthorizedException } from '@nestjs/common';
import { loadConfig } from '@nso/config';
import { LoginThrottle } from '../rate-limit/login-throttle.service';
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
