// Redis key names of rate limiting and login throttling, under the deployment prefix like every other key.
import type { RedisKeys } from '@nso/contracts';
import { createHash } from 'node:crypto';

export interface RateLimitKeys {
  /** Request counter of one bucket ("ip:…", "user:…") in one fixed window. */
  window(bucket: string, windowIndex: number): string;
  /** Recent failed logins of an account or a client network (sorted set scored by time). */
  loginFailures(subject: LoginSubject): string;
  /** Login attempts under way for that subject (sorted set scored by start time). */
  loginAttempts(subject: LoginSubject): string;
}

export type LoginSubject = { account: string } | { network: string };

export function rateLimitKeys(keys: RedisKeys): RateLimitKeys {
  const prefix = deploymentPrefix(keys);
  const subject = (s: LoginSubject) =>
    'account' in s ? `account:${accountKeyPart(s.account)}` : `net:${s.network}`;
  return {
    window: (bucket, windowIndex) => `${prefix}:rl:${bucket}:${windowIndex}`,
    loginFailures: (s) => `${prefix}:login:${subject(s)}:failures`,
    loginAttempts: (s) => `${prefix}:login:${subject(s)}:attempts`,
  };
}

/** REDIS_PREFIX, so these keys live (and are cleared) with the rest. */
export function deploymentPrefix(keys: RedisKeys): string {
  return keys.prefix;
}

/**
 * Usernames match case-insensitively. A login attempt may send any string as its username, so one that is not
 * a plausible username is hashed rather than written into a key name as it is.
 */
export function accountKeyPart(username: string): string {
  const lower = username.toLowerCase();
  return /^[a-z0-9_.@+-]{1,128}$/.test(lower)
    ? lower
    : `sha256-${createHash('sha256').update(lower).digest('hex')}`;
}
