import { Module } from '@nestjs/common';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';
import { StatsModule } from '../stats/stats.module';

@Module({ imports: [StatsModule], controllers: [HealthController], providers: [HealthService] })
export class HealthModule {}
