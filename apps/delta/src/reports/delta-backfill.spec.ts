// DeltaBackfill over fakes: the start-up sweep queues a diff for each recent completed run without a report.
import type { DeltaJobData } from '@nso/contracts';
import type { DeltaJobs } from '@nso/events';
import type { DeltaReportRepository, RunHistoryQueries } from '@nso/persistence';
import { BACKFILL_LIMIT, BACKFILL_WINDOW_MS, DeltaBackfill } from './delta-backfill';
import type { DeltaReportService } from './delta-report.service';

describe('DeltaBackfill.sweep', () => {
  it('queues a diff for each completed run of the window that has no report', async () => {
    const asked: Array<{ since: Date; limit: number }> = [];
    const runs: Pick<RunHistoryQueries, 'completedWithoutReport'> = {
      completedWithoutReport: async (since, limit) => {
        asked.push({ since, limit });
        return [
          { scanId: 7, resultId: 12 },
          { scanId: 8, resultId: 15 },
        ];
      },
    };
    const queued: DeltaJobData[] = [];
    const jobs = { enqueue: async (data: DeltaJobData) => void queued.push(data) } as unknown as DeltaJobs;
    const backfill = new DeltaBackfill(
      runs as RunHistoryQueries,
      jobs,
      {} as DeltaReportService,
      {} as DeltaReportRepository,
    );
    const now = new Date('2026-12-01T12:00:00Z');

    await expect(backfill.sweep(now)).resolves.toBe(2);

    expect(asked).toEqual([{ since: new Date(now.getTime() - BACKFILL_WINDOW_MS), limit: BACKFILL_LIMIT }]);
    expect(queued).toEqual([
      { scanId: 7, resultId: 12 },
      { scanId: 8, resultId: 15 },
    ]);
  });

  it('resumes pending verifications: the rescan of a report without one, the judging of a rescan that ended', async () => {
    const stored = {
      pendingVerifications: async () => [
        { reportId: 1, scanId: 7, verifyResultId: null, rescanStatus: null },
        { reportId: 2, scanId: 7, verifyResultId: 20, rescanStatus: 'running' },
        { reportId: 3, scanId: 8, verifyResultId: 30, rescanStatus: 'failed' },
      ],
    } as unknown as DeltaReportRepository;
    const calls: Array<[string, unknown, unknown?]> = [];
    const jobs = {
      verifyLater: async (data: unknown, delay: number) => void calls.push(['verify', data, delay]),
      enqueue: async (data: unknown) => void calls.push(['diff', data]),
    } as unknown as DeltaJobs;
    const backfill = new DeltaBackfill({} as RunHistoryQueries, jobs, {} as DeltaReportService, stored);

    await expect(backfill.resumeVerifications()).resolves.toBe(2);

    expect(calls).toEqual([
      ['verify', { scanId: 7, reportId: 1 }, 0],
      ['diff', { scanId: 8, resultId: 30 }],
    ]);
  });
});
