import { DynamicModule, Module } from '@nestjs/common';
import { infrastructureModules } from '@nso/bootstrap';
import { AppConfig } from '@nso/config';
import { HEARTBEAT_IDENTITY, HeartbeatService } from '@nso/bootstrap';
import { NmapModule } from '@nso/nmap';
import { AgentsModule } from './agents/agents.module';
import { BatchesModule } from './batches/batches.module';
import { WorkerClientsModule } from './clients/clients.module';
import { MaintenanceModule } from './maintenance/maintenance.module';
import { SchedulesModule } from './schedules/schedules.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ...infrastructureModules(config),
        NmapModule,
        BatchesModule,
        MaintenanceModule,
        SchedulesModule,
        AgentsModule,
        WorkerClientsModule,
        WebhooksModule,
      ],
      providers: [
        { provide: HEARTBEAT_IDENTITY, useValue: { kind: 'worker', id: config.workerId } },
        HeartbeatService,
      ],
    };
  }
}
