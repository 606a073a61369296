import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { redisKeys, RedisKeys } from '@nso/contracts';
import { redisOptionsFromUrl } from './redis-connection';

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

/** One shared ioredis connection for commands (not for subscribing) and the deployment's key names. */
@Global()
@Module({})
export class RedisModule {
  static forRoot(options: { url: string; prefix: string }): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        {
          provide: REDIS_CLIENT,
          useFactory: () =>
            new Redis({
              ...redisOptionsFromUrl(options.url),
              maxRetriesPerRequest: 2,
              enableOfflineQueue: true,
            }),
        },
        { provide: REDIS_KEYS, useValue: redisKeys(options.prefix) },
        RedisCloser,
      ],
      exports: [REDIS_CLIENT, REDIS_KEYS],
    };
  }
}

export type { RedisKeys };
