import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { MAINTENANCE_QUEUE, RECONCILE_RUNS_JOB } from '@nso/contracts';
import { JobSchedulers, JobWorkers, RedisOutageMonitor } from '@nso/events';
import { RunReconciler, ScanSchedules } from '@nso/runs';

/**
 * Runs the reconciliation of queued and running runs (RunReconciler) and of scan schedules: once when this worker starts, and every
 * RECONCILE_INTERVAL_MS through a BullMQ job scheduler on the maintenance queue, so that however many workers
 * there are, one of them does it per period. A Redis that restarts empty loses the scheduler with everything
 * else: each worker checks every period that it exists and puts it back (upserting is idempotent).
 */
@Injectable()
export class RunMaintenanceService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('RunReconciler');
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly schedulers: JobSchedulers,
    private readonly reconciler: RunReconciler,
    private readonly schedules: ScanSchedules,
    private readonly monitor: RedisOutageMonitor,
    private readonly jobs: JobWorkers,
  ) {}

  onApplicationBootstrap(): void {
    this.jobs.work(
      MAINTENANCE_QUEUE,
      { name: `${this.config.workerId}-maintenance`, concurrency: 1, monitorAs: 'maintenance worker' },
      { [RECONCILE_RUNS_JOB]: () => this.reconcile('scheduled') },
    );
    this.keepScheduler();
    this.timer = setInterval(() => this.keepScheduler(), this.config.reconcileIntervalMs);
    this.timer.unref();
    void this.reconcile('start-up').catch(() => undefined);
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One pass over every active run; logs what it changed. Errors are logged and rethrown (the job fails). */
  private async reconcile(why: string): Promise<void> {
    try {
      const counts = await this.reconciler.reconcileAll();
      const changed = counts.requeued + counts.settled + counts.resumed + counts.completed + counts.failed;
      if (changed > 0) this.logger.log(`${why} reconciliation: ${JSON.stringify(counts)}`);
      // A schedule whose scheduler was lost (Redis emptied, or a gateway could not reach Redis when the scan was
      // saved) is put back; the database is the record.
      const restored = await this.schedules.ensureAll();
      if (restored > 0) this.logger.log(`${why} reconciliation: ${restored} schedule(s) put back`);
    } catch (error) {
      this.monitor.report(`${why} reconciliation`, error);
      throw error;
    }
  }

  private keepScheduler(): void {
    this.schedulers
      .ensure(
        MAINTENANCE_QUEUE,
        RECONCILE_RUNS_JOB,
        { every: this.config.reconcileIntervalMs },
        { name: RECONCILE_RUNS_JOB, data: {}, keep: 10 },
      )
      .catch((error: Error) => this.monitor.report('reconciliation scheduler', error));
  }
}
