import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig, ConfigModule } from '@nso/config';
import {
  HEARTBEAT_IDENTITY,
  HeartbeatService,
  QueueModule,
  RedisModule,
  ScanEventsModule,
} from '@nso/events';
import { NmapModule } from '@nso/nmap';
import { PersistenceModule } from '@nso/persistence';
import { BatchesModule } from './batches/batches.module';

@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
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
        ScanEventsModule.forRoot({ maxLength: config.eventLogMax }),
        NmapModule,
        BatchesModule,
      ],
      providers: [
        { provide: HEARTBEAT_IDENTITY, useValue: { kind: 'worker', id: config.workerId } },
        HeartbeatService,
      ],
    };
  }
}
