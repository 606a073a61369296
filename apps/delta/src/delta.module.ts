import { DynamicModule, Module } from '@nestjs/common';
import { infrastructureModules } from '@nso/bootstrap';
import { AppConfig } from '@nso/config';
import { HEARTBEAT_IDENTITY, HeartbeatService } from '@nso/bootstrap';
import { DeltaBackfill } from './reports/delta-backfill';
import { DeltaQueueConsumer } from './reports/delta-queue.consumer';
import { DeltaReportService } from './reports/delta-report.service';

@Module({})
export class DeltaModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: DeltaModule,
      imports: infrastructureModules(config),
      providers: [
        { provide: HEARTBEAT_IDENTITY, useValue: { kind: 'delta', id: config.workerId } },
        HeartbeatService,
        DeltaReportService,
        DeltaQueueConsumer,
        DeltaBackfill,
      ],
    };
  }
}
