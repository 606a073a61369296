import { BullModule, getQueueToken } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { QUEUE_NAMES, redisKeys } from '@nso/contracts';
import type { Queue } from 'bullmq';
import { redisOptionsFromUrl } from './redis-connection';
import { DeltaJobs } from './delta-jobs';
import { JobSchedulers } from './job-schedulers';
import { JobWorkers, QUEUE_CONNECTION, QueueConnection } from './job-workers';
import { RedisOutageMonitor } from './redis-outage.monitor';

/** Every queue of the registry; BATCH_QUEUE only keeps its name taken (see its comment). */
const QUEUES = QUEUE_NAMES;

/** Gives every queue's 'error' events to the monitor (a Queue without a listener prints each one). */
const QUEUE_ERRORS = {
  provide: Symbol('QUEUE_ERRORS'),
  useFactory: (monitor: RedisOutageMonitor, ...queues: Queue[]) => {
    queues.forEach((queue, index) => monitor.watchEmitter(`queue ${QUEUES[index]}`, queue));
    return true;
  },
  inject: [RedisOutageMonitor, ...QUEUES.map((name) => getQueueToken(name))],
};

/**
 * BullMQ's connection, the product's queues (producers inject them with @InjectQueue), their job schedulers, and
 * JobWorkers (the one way to consume a queue), registered the same way in every app.
 */
@Module({})
export class QueueModule {
  static forRoot(options: QueueConnection): DynamicModule {
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
      providers: [
        QUEUE_ERRORS,
        { provide: QUEUE_CONNECTION, useValue: options },
        JobSchedulers,
        JobWorkers,
        DeltaJobs,
      ],
      exports: [queues, JobSchedulers, JobWorkers, DeltaJobs],
    };
  }
}
