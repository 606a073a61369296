import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { redisKeys, RedisKeys } from '@nso/contracts';
import { redisOptionsFromUrl } from './redis-connection';
import { RedisOutageMonitor } from './redis-outage.monitor';

export const REDIS_CLIENT = Symbol('REDIS_CLIENT');
export const REDIS_KEYS = Symbol('REDIS_KEYS');

/** Closes the shared command connection when the application shuts down. */
@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * One shared ioredis connection for commands (not for subscribing), the deployment's key names, and the monitor
 * every Redis connection of the process reports its errors to.
 */
@Global()
@Module({})
export class RedisModule {
  static forRoot(options: { url: string; prefix: string }): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        {
          provide: REDIS_CLIENT,
          useFactory: (monitor: RedisOutageMonitor) =>
            monitor.watchClient(
              'commands',
              new Redis({
                ...redisOptionsFromUrl(options.url),
                maxRetriesPerRequest: 2,
                enableOfflineQueue: true,
              }),
              { probe: true },
            ),
          inject: [RedisOutageMonitor],
        },
        RedisOutageMonitor,
        { provide: REDIS_KEYS, useValue: redisKeys(options.prefix) },
        RedisCloser,
      ],
      exports: [REDIS_CLIENT, REDIS_KEYS, RedisOutageMonitor],
    };
  }
}

export type { RedisKeys };
