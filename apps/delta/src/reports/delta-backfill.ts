// Queues the diff of every recently completed run that has no report, when the delta service starts: a worker
// that died between ending a run and queueing its diff, or a Redis that lost the queue, costs a delay, never a
// report. Jobs are keyed by result id, so a run whose job is still queued (or recently done) is not queued twice;
// one diffed before (a first run, a report deleted by its user) is looked at again and skipped. Reports stored but
// still owing their announcement (a job that ran out of retries while Redis was away) are announced.
import { EntityManager } from '@mikro-orm/core';
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DeltaJobs } from '@nso/events';
import { knexOf, logSafeError } from '@nso/persistence';
import { DeltaReportService } from './delta-report.service';

/** How far back the start-up sweep looks, and how many runs it queues at most. */
export const BACKFILL_WINDOW_MS = 7 * 24 * 3600 * 1000;
export const BACKFILL_LIMIT = 1000;

@Injectable()
export class DeltaBackfill implements OnApplicationBootstrap {
  private readonly logger = new Logger(DeltaBackfill.name);

  constructor(
    private readonly em: EntityManager,
    private readonly jobs: DeltaJobs,
    private readonly reports: DeltaReportService,
  ) {}

  onApplicationBootstrap(): void {
    // In the background: the service is ready without it, and a failure is logged, not fatal.
    void this.sweep().catch((error) => this.logger.warn(`backfill failed: ${logSafeError(error)}`));
    void this.reports
      .announceOwed()
      .then(
        (count) => count > 0 && this.logger.log(`announced ${count} report(s) whose announcement was owed`),
      )
      .catch((error) => this.logger.warn(`announcing owed reports failed: ${logSafeError(error)}`));
  }

  /** Queues a diff for each completed run of the window without a report as current run; returns how many. */
  async sweep(now = new Date()): Promise<number> {
    const knex = knexOf(this.em);
    const runs: Array<{ id: number | string; scan_id: number | string }> = await knex('scan_results as r')
      .select('r.id', 'r.scan_id')
      .where('r.status', 'completed')
      .andWhere('r.finished_at', '>=', new Date(now.getTime() - BACKFILL_WINDOW_MS))
      .whereNotExists(knex('delta_reports as d').select(knex.raw('1')).whereRaw('d.current_result_id = r.id'))
      .orderBy('r.id')
      .limit(BACKFILL_LIMIT);
    for (const run of runs)
      await this.jobs.enqueue({ scanId: Number(run.scan_id), resultId: Number(run.id) });
    if (runs.length > 0) this.logger.log(`backfill: ${runs.length} completed run(s) without a report queued`);
    return runs.length;
  }
}
