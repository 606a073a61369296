import { DynamicModule, Module } from '@nestjs/common';
import { Metrics } from './metrics';
import { METRICS_SERVER_OPTIONS, MetricsServer, MetricsServerOptions } from './metrics-server';
import { Notifier } from './notifications';

/**
 * Notifications (`/api/stream` topics) and the process's metrics: global, registered once in every app's root
 * module (infrastructureModules), so any service may publish a notification or observe a metric.
 */
@Module({})
export class NotificationsModule {
  static forRoot(metrics: MetricsServerOptions): DynamicModule {
    return {
      module: NotificationsModule,
      global: true,
      providers: [Metrics, Notifier, MetricsServer, { provide: METRICS_SERVER_OPTIONS, useValue: metrics }],
      exports: [Metrics, Notifier],
    };
  }
}
