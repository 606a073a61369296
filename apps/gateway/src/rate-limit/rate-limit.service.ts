// Counts requests per bucket in Redis, so the limit holds across every gateway replica.
//
// Fixed windows aligned to the epoch: one counter per bucket and window (`<prefix>:rl:<bucket>:<windowIndex>`),
// INCR'd by one Lua script that also sets its expiry on the first hit, so concurrent requests on any replica
// never over-admit and a counter never outlives its window. Chosen over a sliding log (a sorted-set entry per
// request: 1000 per user per hour) and GCRA (no single moment when the allowance comes back) because it is one
// O(1) key per client and it is exactly what the documented headers describe: a limit, what is left, and one
// Unix time at which it resets. The price is that a client can spend its allowance at the end of one window
// and again at the start of the next; for an hourly abuse limit that is acceptable.
//
// The window is computed from this process's clock (injected, so tests move time instead of sleeping). Replicas
// with NTP-synchronised clocks agree; a skew only moves a window's edge by that much on the skewed replica.
import { Inject, Injectable } from '@nestjs/common';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from '@nso/events';
import Redis from 'ioredis';
import { Clock } from './clock';
import { fixedWindowAt } from './fixed-window';
import { rateLimitKeys, RateLimitKeys } from './rate-limit.keys';

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** Requests left in this window after this one (0 once refused). */
  remaining: number;
  /** Unix seconds when the window resets. */
  resetAt: number;
}

const COMMAND = 'nsoRateLimitHit';

// KEYS: the window's counter. ARGV: its TTL in seconds. Returns the count including this request.
const HIT_LUA = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
`;

type WithHitCommand = Redis & { [COMMAND](key: string, ttlSeconds: number): Promise<number> };

@Injectable()
export class RateLimitService {
  private readonly redis: WithHitCommand;
  private readonly keys: RateLimitKeys;

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    @Inject(REDIS_KEYS) keys: RedisKeys,
    private readonly clock: Clock,
  ) {
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: HIT_LUA });
    this.redis = redis as WithHitCommand;
    this.keys = rateLimitKeys(keys);
  }

  /** Counts one request against a bucket; `allowed` is false once it is past `limit` in the current window. */
  async consume(bucket: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    const window = fixedWindowAt(this.clock.now(), windowSeconds);
    const count = Number(
      await this.redis[COMMAND](this.keys.window(bucket, window.index), window.ttlSeconds),
    );
    return {
      allowed: count <= limit,
      limit,
      remaining: Math.max(0, limit - count),
      resetAt: window.resetAt,
    };
  }
}
