import { Module } from '@nestjs/common';
import { RunsModule } from '@nso/runs';
import { RunMaintenanceService } from './run-maintenance.service';

/** The worker's share of housekeeping: reconciling runs with Redis (see RunMaintenanceService). */
@Module({ imports: [RunsModule], providers: [RunMaintenanceService] })
export class MaintenanceModule {}
