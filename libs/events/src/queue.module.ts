import { BullModule, getQueueToken } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import {
  AGENT_TASK_QUEUE,
  BATCH_QUEUE,
  DELTA_QUEUE,
  MAINTENANCE_QUEUE,
  redisKeys,
  SCHEDULE_QUEUE,
  WEBHOOK_QUEUE,
} from '@nso/contracts';
import type { Queue } from 'bullmq';
import { redisOptionsFromUrl } from './redis-connection';
import { DeltaJobs } from './delta-jobs';
import { JobSchedulers } from './job-schedulers';
import { RedisOutageMonitor } from './redis-outage.monitor';
import { WebhookJobs } from './webhooks/webhook-jobs';

const QUEUES = [
  BATCH_QUEUE,
  DELTA_QUEUE,
  MAINTENANCE_QUEUE,
  SCHEDULE_QUEUE,
  AGENT_TASK_QUEUE,
  WEBHOOK_QUEUE,
] as const;

/** Gives every queue's 'error' events to the monitor (a Queue without a listener prints each one). */
const QUEUE_ERRORS = {
  provide: Symbol('QUEUE_ERRORS'),
  useFactory: (monitor: RedisOutageMonitor, ...queues: Queue[]) => {
    queues.forEach((queue, index) => monitor.watchEmitter(`queue ${QUEUES[index]}`, queue));
    return true;
  },
  inject: [RedisOutageMonitor, ...QUEUES.map((name) => getQueueToken(name))],
};

/** BullMQ's connection, the product's queues and their job schedulers, registered the same way in every app. */
@Module({})
export class QueueModule {
  static forRoot(options: { url: string; prefix: string }): DynamicModule {
    const queues = BullModule.registerQueue(...QUEUES.map((name) => ({ name })));
    return {
      module: QueueModule,
      global: true,
      imports: [
        BullModule.forRoot({
          connection: redisOptionsFromUrl(options.url),
          prefix: redisKeys(options.prefix).bullPrefix,
        }),
        queues,
      ],
      providers: [QUEUE_ERRORS, JobSchedulers, DeltaJobs, WebhookJobs],
      exports: [queues, JobSchedulers, DeltaJobs, WebhookJobs],
    };
  }
}
