import { DynamicModule, Module } from '@nestjs/common';
import { infrastructureModules } from '@nso/bootstrap';
import { AppConfig } from '@nso/config';
import { HEARTBEAT_IDENTITY, HeartbeatService } from '@nso/bootstrap';
import { RunsModule } from '@nso/runs';
import { ChangeVerification } from './reports/change-verification';
import { DeltaBackfill } from './reports/delta-backfill';
import { DeltaQueueConsumer } from './reports/delta-queue.consumer';
import { DeltaReportService } from './reports/delta-report.service';

@Module({})
export class DeltaModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: DeltaModule,
      // RunsModule: a report's changes are confirmed by a rescan, a run of its own (trigger verify).
      imports: [...infrastructureModules(config), RunsModule],
      providers: [
        { provide: HEARTBEAT_IDENTITY, useValue: { kind: 'delta', id: config.workerId } },
        HeartbeatService,
        DeltaReportService,
        ChangeVerification,
        DeltaQueueConsumer,
        DeltaBackfill,
      ],
    };
  }
}
