// The one way a process consumes a queue (in the spirit of Twenty's MessageQueueService.work): a consumer names the
// queue and a handler per job name of the registry (QUEUE_JOBS in @nso/contracts); connection, prefix, outage
// monitoring, concurrency, locks, logging of failed tries and shutdown are written here once.
import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import {
  type JobName,
  type JobNameOf,
  type JobPayloads,
  type QueueName,
  QUEUE_JOBS,
  redisKeys,
} from '@nso/contracts';
import { safeErrorMessage, withoutStatement } from '@nso/persistence';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import { redisOptionsFromUrl } from './redis-connection';
import { RedisOutageMonitor } from './redis-outage.monitor';

/** Where BullMQ's connections go: REDIS_URL and REDIS_PREFIX (queues live under `<prefix>:bull`). */
export const QUEUE_CONNECTION = Symbol('QUEUE_CONNECTION');
export interface QueueConnection {
  url: string;
  prefix: string;
}

/** A job of name `N` as its handler gets it: the payload typed by the registry. */
export type JobOfName<N extends JobName> = Job<JobPayloads[N], unknown, N>;

/**
 * One handler per job name queue `Q` carries. A handler pulls the ids out of the job, calls one domain method and
 * returns its outcome (stored as the job's return value); it lets failures propagate so BullMQ retries (or throws
 * UnrecoverableError for a try that must not be repeated).
 */
export type JobHandlers<Q extends QueueName> = {
  [N in JobNameOf<Q>]: (job: JobOfName<N>) => Promise<unknown>;
};

export interface WorkOptions {
  /** BullMQ's worker name, shown in its job records (the process's WORKER_ID, with a suffix per queue). */
  name: string;
  /** Jobs of this queue run at once in this process. */
  concurrency: number;
  /**
   * For long jobs: how long a job's lock lasts without renewal, which is also how often stalled jobs are looked
   * for (ms), and how often a job may stall (its process died) before it fails.
   */
  lock?: { durationMs: number; maxStalledCount: number };
  /** Under which name the outage monitor reports the worker's connection errors (`batch worker`). */
  monitorAs: string;
  /** Logs each failed try as a warning starting with this label (`batch`, `delta job`). */
  logFailuresAs?: string;
  /**
   * The queue's name in Redis when it is one of a family the registry names once: a pool's batch queue
   * (`clientBatchQueueName(clientId)` for BATCH_QUEUE). Default: the registry's name.
   */
  queueName?: string;
}

/**
 * Starts BullMQ workers for the queues a process consumes and closes them on shutdown (SIGTERM: no new job is
 * taken, and the running ones finish before Redis and the database close). Global: provided by QueueModule.
 */
@Injectable()
export class JobWorkers implements BeforeApplicationShutdown {
  private readonly logger = new Logger(JobWorkers.name);
  private readonly workers: Worker[] = [];

  constructor(
    @Inject(QUEUE_CONNECTION) private readonly connection: QueueConnection,
    private readonly monitor: RedisOutageMonitor,
  ) {}

  /**
   * Consumes `queue` from now on: each job goes to the handler of its name. A job whose name the registry does not
   * give this queue fails at once, without retries (UnrecoverableError), naming it.
   */
  work<Q extends QueueName>(queue: Q, options: WorkOptions, handlers: JobHandlers<Q>): void {
    const known: readonly JobName[] = QUEUE_JOBS[queue];
    const byName = handlers as unknown as Record<string, ((job: Job) => Promise<unknown>) | undefined>;
    const worker = new Worker(
      options.queueName ?? queue,
      async (job: Job) => {
        const handler = known.includes(job.name as JobName) ? byName[job.name] : undefined;
        if (!handler) throw new UnrecoverableError(`queue ${queue} has no job named "${job.name}"`);
        // BullMQ keeps a failed job's message in Redis: a database error's statement and values never go there.
        return handler(job).catch((error: unknown) => {
          throw withoutStatement(error);
        });
      },
      {
        connection: redisOptionsFromUrl(this.connection.url),
        prefix: redisKeys(this.connection.prefix).bullPrefix,
        concurrency: options.concurrency,
        name: options.name,
        ...(options.lock && {
          lockDuration: options.lock.durationMs,
          stalledInterval: options.lock.durationMs,
          maxStalledCount: options.lock.maxStalledCount,
        }),
      },
    );
    this.monitor.watchEmitter(options.monitorAs, worker);
    const label = options.logFailuresAs;
    if (label) {
      worker.on('failed', (job, error) =>
        this.logger.warn(
          `${label} ${job?.id} attempt ${job?.attemptsMade} failed: ${safeErrorMessage(error)}`,
        ),
      );
    }
    this.workers.push(worker);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((worker) => worker.close()));
  }
}
