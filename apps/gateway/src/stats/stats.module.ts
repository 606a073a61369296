import { Module } from '@nestjs/common';
import { RunsModule } from '@nso/runs';
import { StatsController } from './stats.controller';
import { StatsService } from './stats.service';
import { MetricsCollectors } from './metrics.collectors';

/** `GET /api/stats`, the counts of `GET /api/health`, and the gauges the gateway's metrics read at scrape time. */
@Module({
  imports: [RunsModule],
  controllers: [StatsController],
  providers: [StatsService, MetricsCollectors],
  exports: [StatsService],
})
export class StatsModule {}
