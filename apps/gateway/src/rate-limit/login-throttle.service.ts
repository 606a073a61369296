// Failed logins, limited on their own against password guessing: per account (LOGIN_FAILURES_PER_ACCOUNT) and
// per client network (LOGIN_FAILURES_PER_IP) within LOGIN_FAILURE_WINDOW_SECONDS, counted in Redis for all
// replicas.
//
// Each subject keeps a sorted set of its recent failures (at most the limit, so a few entries), which makes the
// window exact: "5 failures in the last 15 minutes", unlocking as the oldest one ages out. A failure is only
// known after the password check, so a burst of parallel guesses would all pass a plain check first; therefore
// assertAllowed also registers the attempt as under way, attempts under way count like failures, and
// recordFailure turns one into a failure. An attempt that ends otherwise (an error before the password was
// judged) is released; one that never reports back at all stops counting after ATTEMPT_TTL_MS. Unlike the request rate limit this does not fail open: logins need Redis for the session anyway.
import { HttpException, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from '@nso/events';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { clientNetwork } from './client-network';
import { Clock } from './clock';
import { LoginSubject, rateLimitKeys, RateLimitKeys } from './rate-limit.keys';

/** Longer than any password check; how long an attempt that never reported back still counts. */
export const ATTEMPT_TTL_MS = 10_000;

const CHECK = 'nsoLoginCheck';
const FAILED = 'nsoLoginFailed';

// A subject's wait, in ms, until its failures plus attempts under way drop below its limit (0: not locked).
const WAIT_FUNCTION = `
local function wait(failures, attempts, now, windowMs, attemptMs, limit)
  redis.call('ZREMRANGEBYSCORE', failures, '-inf', now - windowMs)
  redis.call('ZREMRANGEBYSCORE', attempts, '-inf', now - attemptMs)
  local ends = {}
  local f = redis.call('ZRANGE', failures, 0, -1, 'WITHSCORES')
  for i = 2, #f, 2 do table.insert(ends, tonumber(f[i]) + windowMs) end
  local a = redis.call('ZRANGE', attempts, 0, -1, 'WITHSCORES')
  for i = 2, #a, 2 do table.insert(ends, tonumber(a[i]) + attemptMs) end
  if #ends < limit then return 0 end
  table.sort(ends)
  return ends[#ends - limit + 1] - now
end
`;

// KEYS: account failures, account attempts, network failures, network attempts.
// ARGV: now ms, window ms, attempt ms, account limit, network limit, attempt id.
// Returns {account wait ms, network wait ms}; when both are 0 the attempt is registered on both subjects.
const CHECK_LUA = `${WAIT_FUNCTION}
local now, windowMs, attemptMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local account = wait(KEYS[1], KEYS[2], now, windowMs, attemptMs, tonumber(ARGV[4]))
local network = wait(KEYS[3], KEYS[4], now, windowMs, attemptMs, tonumber(ARGV[5]))
if account == 0 and network == 0 then
  for _, key in ipairs({KEYS[2], KEYS[4]}) do
    redis.call('ZADD', key, now, ARGV[6])
    redis.call('PEXPIRE', key, attemptMs)
  end
end
return {account, network}
`;

// KEYS: account failures, account attempts, network failures, network attempts.
// ARGV: now ms, window ms, failure id, account limit, network limit.
// Each subject ends one attempt under way and keeps its newest failures, as many as its limit.
const FAILED_LUA = `
local now, windowMs = tonumber(ARGV[1]), tonumber(ARGV[2])
for i, keep in ipairs({tonumber(ARGV[4]), tonumber(ARGV[5])}) do
  local failures, attempts = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('ZPOPMIN', attempts)
  redis.call('ZADD', failures, now, ARGV[3])
  redis.call('ZREMRANGEBYRANK', failures, 0, -(keep + 1))
  redis.call('PEXPIRE', failures, windowMs)
end
return 1
`;

type WithLoginCommands = Redis & {
  [CHECK](...keysThenArgs: (string | number)[]): Promise<[number, number]>;
  [FAILED](...keysThenArgs: (string | number)[]): Promise<number>;
};

@Injectable()
export class LoginThrottle {
  private readonly redis: WithLoginCommands;
  private readonly keys: RateLimitKeys;

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    @Inject(REDIS_KEYS) keys: RedisKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    if (!(CHECK in redis)) {
      redis.defineCommand(CHECK, { numberOfKeys: 4, lua: CHECK_LUA });
      redis.defineCommand(FAILED, { numberOfKeys: 4, lua: FAILED_LUA });
    }
    this.redis = redis as WithLoginCommands;
    this.keys = rateLimitKeys(keys);
  }

  /**
   * Throws 429 while the account or the client's network has too many recent failures; otherwise registers
   * this attempt as under way until recordFailure or recordSuccess.
   */
  async assertAllowed(username: string, ip: string): Promise<void> {
    const limits = this.config.rateLimit;
    const [accountWait, networkWait] = await this.redis[CHECK](
      ...this.subjectKeys(username, ip),
      this.clock.now(),
      limits.loginWindowSeconds * 1000,
      ATTEMPT_TTL_MS,
      limits.loginFailuresPerAccount,
      limits.loginFailuresPerIp,
      randomUUID(),
    );
    const waitMs = Math.max(Number(accountWait), Number(networkWait));
    if (waitMs <= 0) return;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    throw new HttpException(
      {
        error: `Too many failed logins; try again in ${seconds} second${seconds === 1 ? '' : 's'}`,
        retry_after: seconds,
      },
      429,
    );
  }

  async recordFailure(username: string, ip: string): Promise<void> {
    const limits = this.config.rateLimit;
    await this.redis[FAILED](
      ...this.subjectKeys(username, ip),
      this.clock.now(),
      limits.loginWindowSeconds * 1000,
      randomUUID(),
      limits.loginFailuresPerAccount,
      limits.loginFailuresPerIp,
    );
  }

  /**
   * Ends this attempt without a verdict (the login failed for a reason other than the credentials, such as an
   * error reading the user): it no longer counts on either subject, and no failure is recorded.
   */
  async release(username: string, ip: string): Promise<void> {
    const [, accountAttempts, , networkAttempts] = this.subjectKeys(username, ip);
    await this.redis.multi().zpopmin(accountAttempts).zpopmin(networkAttempts).exec();
  }

  /**
   * Forgets the account's failures; the network's stay, so guessing through one account that someone keeps
   * logging in to is still limited. Pass `ip` to end this attempt there at once (else it ends after
   * ATTEMPT_TTL_MS).
   */
  async recordSuccess(username: string, ip?: string): Promise<void> {
    const account: LoginSubject = { account: username };
    const batch = this.redis.multi().del(this.keys.loginFailures(account), this.keys.loginAttempts(account));
    if (ip !== undefined) batch.zpopmin(this.keys.loginAttempts({ network: clientNetwork(ip) }));
    await batch.exec();
  }

  private subjectKeys(username: string, ip: string): [string, string, string, string] {
    const account: LoginSubject = { account: username };
    const network: LoginSubject = { network: clientNetwork(ip) };
    return [
      this.keys.loginFailures(account),
      this.keys.loginAttempts(account),
      this.keys.loginFailures(network),
      this.keys.loginAttempts(network),
    ];
  }
}
