// The batch queues of the worker pools, one per scanner client (`scan-batches.<clientId>`), opened on first use:
// the set of pools is only known at run time (they register themselves), so they cannot be registered up front
// like the product's fixed queues.
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { BATCH_JOB, clientBatchQueueName, JobOf, redisKeys } from '@nso/contracts';
import { redisOptionsFromUrl, RedisOutageMonitor } from '@nso/events';
import { Queue } from 'bullmq';

/** A pool's batch queue as BullMQ sees it: jobs named BATCH_JOB carrying its payload (JobPayloads). */
export type BatchBullQueue = Queue<JobOf<typeof BATCH_JOB>, unknown, typeof BATCH_JOB>;

@Injectable()
export class ClientBatchQueues implements OnApplicationShutdown {
  private readonly queues = new Map<string, BatchBullQueue>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly monitor: RedisOutageMonitor,
  ) {}

  /** The batch queue of worker pool `clientId` (clientBatchQueueName), opened once per process. */
  queue(clientId: string): BatchBullQueue {
    const known = this.queues.get(clientId);
    if (known) return known;
    const name = clientBatchQueueName(clientId);
    const queue: BatchBullQueue = new Queue(name, {
      connection: redisOptionsFromUrl(this.config.redisUrl),
      prefix: redisKeys(this.config.redisPrefix).bullPrefix,
    });
    this.monitor.watchEmitter(`queue ${name}`, queue);
    this.queues.set(clientId, queue);
    return queue;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.queues.clear();
  }
}
