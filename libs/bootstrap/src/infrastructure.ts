// What every process of the system imports the same way: its configuration, Redis, the BullMQ queues and the
// database (migrated at start-up; concurrent starts are safe).
import { DynamicModule } from '@nestjs/common';
import { AppConfig, ConfigModule } from '@nso/config';
import {
  NotificationsModule,
  QueueModule,
  RedisModule,
  ScanEventsModule,
  ScanSeqReservations,
} from '@nso/events';
import { MonitoringModule } from '@nso/monitoring';
import { PersistenceModule, ScanRepository } from '@nso/persistence';
import { WebhookJobsModule } from '@nso/webhooks';

export function infrastructureModules(config: AppConfig): DynamicModule[] {
  const redis = { url: config.redisUrl, prefix: config.redisPrefix };
  return [
    ConfigModule.forRoot(config),
    RedisModule.forRoot(redis),
    QueueModule.forRoot(redis),
    ScanEventsModule.forRoot({
      maxLength: config.eventLogMax,
      // Event seqs are reserved in the database, so they keep rising when Redis loses its counter.
      seqReservations: {
        useFactory: (scans: ScanRepository): ScanSeqReservations => ({
          reserve: (scanId, count) => scans.reserveEventSeqs(scanId, count),
        }),
        inject: [ScanRepository],
      },
    }),
    MonitoringModule.forRoot(config.metrics),
    NotificationsModule.forRoot(),
    PersistenceModule.forRoot({
      databaseUrl: config.databaseUrl,
      schema: config.databaseSchema,
      poolMax: config.databasePoolMax,
      migrate: true,
    }),
    // Any process may queue a webhook delivery (the delta service does, after storing a report).
    WebhookJobsModule.forRoot(),
  ];
}
