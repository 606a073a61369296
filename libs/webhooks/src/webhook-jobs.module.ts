import { DynamicModule, Module } from '@nestjs/common';
import { WebhookJobs } from './webhook-jobs';

/**
 * WebhookJobs for every process (the delta service queues deliveries after storing a report), global. Needs the
 * global QueueModule (the webhook queue), PersistenceModule (WebhookRepository) and ConfigModule.
 */
@Module({})
export class WebhookJobsModule {
  static forRoot(): DynamicModule {
    return { module: WebhookJobsModule, global: true, providers: [WebhookJobs], exports: [WebhookJobs] };
  }
}
