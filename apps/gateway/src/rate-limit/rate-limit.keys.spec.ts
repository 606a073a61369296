import { redisKeys } from '@nso/contracts';
import { accountKeyPart, deploymentPrefix, rateLimitKeys } from './rate-limit.keys';

describe('rate-limit keys', () => {
  it('live under the deployment prefix, like every other key', () => {
    expect(deploymentPrefix(redisKeys('nso-prod.1'))).toBe('nso-prod.1');
    const keys = rateLimitKeys(redisKeys('nso'));
    expect(keys.window('ip:203.0.113.7', 493_826)).toBe('nso:rl:ip:203.0.113.7:493826');
    expect(keys.loginFailures({ account: 'Admin' })).toBe('nso:login:account:admin:failures');
    expect(keys.loginAttempts({ network: '203.0.113.7' })).toBe('nso:login:net:203.0.113.7:attempts');
  });

  it('match usernames case-insensitively and hash what is not a plausible username', () => {
    expect(accountKeyPart('Alice.B')).toBe('alice.b');
    expect(accountKeyPart('x'.repeat(500))).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect(accountKeyPart('a:b*')).toBe(accountKeyPart('A:B*'));
    expect(accountKeyPart('a:b*')).toMatch(/^sha256-/);
  });
});
