import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig, ConfigModule } from '@nso/config';
import { HEARTBEAT_IDENTITY, HeartbeatService, QueueModule, RedisModule } from '@nso/events';
import { PersistenceModule } from '@nso/persistence';

@Module({})
export class DeltaModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: DeltaModule,
      imports: [
        ConfigModule.forRoot(config),
        RedisModule.forRoot({ url: config.redisUrl, prefix: config.redisPrefix }),
        QueueModule.forRoot({ url: config.redisUrl, prefix: config.redisPrefix }),
        PersistenceModule.forRoot({
          databaseUrl: config.databaseUrl,
          schema: config.databaseSchema,
          poolMax: config.databasePoolMax,
          migrate: true,
        }),
      ],
      providers: [
        { provide: HEARTBEAT_IDENTITY, useValue: { kind: 'delta', id: config.workerId } },
        HeartbeatService,
      ],
    };
  }
}
