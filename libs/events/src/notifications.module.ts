import { DynamicModule, Module } from '@nestjs/common';
import { Notifier } from './notifications';

/**
 * Notifications (`/api/stream` topics): global, registered once in every app's root module
 * (infrastructureModules), so any service may publish a notification.
 */
@Module({})
export class NotificationsModule {
  static forRoot(): DynamicModule {
    return { module: NotificationsModule, global: true, providers: [Notifier], exports: [Notifier] };
  }
}
