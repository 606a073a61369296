import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys, RedisOutageMonitor } from '@nso/events';

export const HEARTBEAT_IDENTITY = Symbol('HEARTBEAT_IDENTITY');
export interface HeartbeatIdentity {
  kind: 'worker' | 'delta';
  id: string;
}

const INTERVAL_MS = 5_000;
const TTL_SECONDS = 15;

/**
 * A process without an HTTP server reports that it is alive by refreshing a key with a TTL; the gateway's
 * health endpoint counts them, and the key vanishes within 15 s of a crash.
 */
@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(HeartbeatService.name);
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    @Inject(HEARTBEAT_IDENTITY) private readonly identity: HeartbeatIdentity,
    private readonly monitor: RedisOutageMonitor,
  ) {}

  private get key(): string {
    return this.keys.processHeartbeat(this.identity.kind, this.identity.id);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      // A Redis outage is logged once by the monitor, not every 5 s here.
      this.beat().catch((error: Error) => this.monitor.report('heartbeat', error));
    }, INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.del(this.key).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    await this.redis.set(
      this.key,
      JSON.stringify({ pid: process.pid, at: new Date().toISOString() }),
      'EX',
      TTL_SECONDS,
    );
  }
}
