import { DynamicModule, Module } from '@nestjs/common';
import { Metrics } from './metrics';
import { METRICS_SERVER_OPTIONS, MetricsServer, MetricsServerOptions } from './metrics-server';

/**
 * The process's Prometheus metrics: global, registered once in every app's root module (infrastructureModules), so
 * any service may observe a metric; served on METRICS_PORT when it is not 0 (docs/monitoring.md).
 */
@Module({})
export class MonitoringModule {
  static forRoot(metrics: MetricsServerOptions): DynamicModule {
    return {
      module: MonitoringModule,
      global: true,
      providers: [Metrics, MetricsServer, { provide: METRICS_SERVER_OPTIONS, useValue: metrics }],
      exports: [Metrics],
    };
  }
}
