// Benchmark 4, schedules: recurring scans with a short interval on 2 gateways and 2 workers (one database, one
// Redis prefix) until at least N fires happened: how late each fire was against its due time, and whether any fire
// started more or fewer than one run. Side by side, in the same process and at the same time, bare BullMQ job
// schedulers of the same interval on a throwaway queue, so the table shows what BullMQ's own timing gives and what
// the product adds on top of it.
import { MikroORM } from '@mikro-orm/core';
import { SCHEDULE_QUEUE, redisKeys } from '@nso/contracts';
import { redisOptionsFromUrl } from '@nso/events';
import { createOrmOptions, ScanResult, ScheduleFire } from '@nso/persistence/testing';
import { Queue, Worker } from 'bullmq';
import type { DatabaseKind } from '../test/support/database';
import { Listener, listenOn } from '../test/support/listeners';
import {
  assertLoopback,
  BenchSystem,
  fmt,
  markdownTable,
  nowMs,
  onCleanup,
  postJson,
  quantile,
  REDIS_URL,
  sleep,
  startBenchSystem,
} from './support';

export interface SchedulesOptions {
  /** Fires to wait for, over all scans together (and as many of the bare BullMQ schedulers). */
  fires: number;
  /** Scheduled scans (and bare BullMQ schedulers), created through the gateways in turn. */
  scans: number;
  /** SCHEDULE_MINUTE_MS (test-only): how long one minute of interval_minutes lasts; each scan has interval 1. */
  minuteMs: number;
  database: DatabaseKind;
  /** Where the listener lives and what is scanned. */
  host: string;
}

export const SCHEDULES_DEFAULTS: SchedulesOptions = {
  fires: 100,
  scans: 5,
  minuteMs: 1000,
  database: 'sqlite',
  host: '127.0.0.78',
};
/** Issue 9: lateness p99 at most 1 s, and no duplicates. */
export const SCHEDULES_TARGET_P99_MS = 1000;

export interface SchedulesResult {
  markdown: string;
  p99: number;
  duplicates: number;
  met: boolean;
}

/** What the bare BullMQ worker saw of one job. */
interface BareFire {
  id: string;
  due: number;
  processedOn: number;
  calledAt: number;
}

export async function runSchedules(options: SchedulesOptions): Promise<SchedulesResult> {
  const host = assertLoopback(options.host);
  const listener: Listener = await listenOn(host);
  const closeListener = onCleanup('listener', () => listener.close());
  const system = await startBenchSystem({
    gateways: 2,
    workers: 2,
    workerConcurrency: 2,
    database: options.database,
    env: { SCHEDULE_MINUTE_MS: String(options.minuteMs) },
  });
  // The benchmark reads the fires and runs from the database the processes write (schedule_fires holds every
  // fire; the API's recent_fires only the last 10 of a scan).
  const orm = await MikroORM.init(
    createOrmOptions({ databaseUrl: system.database.databaseUrl, schema: system.database.schema }),
  );
  const closeOrm = onCleanup('database reader', () => orm.close(true));
  // The product's schedule queue, read only: completed and failed fire jobs keep processedOn (BullMQ keeps 100).
  const connection = redisOptionsFromUrl(REDIS_URL);
  const bullPrefix = redisKeys(system.prefix).bullPrefix;
  const productQueue = new Queue(SCHEDULE_QUEUE, { connection, prefix: bullPrefix });
  // Bare BullMQ under the same Redis prefix (deleted with it), consumed here with the product's concurrency (4).
  const bareQueue = new Queue('bench-bare-schedules', { connection, prefix: `${system.prefix}:bare` });
  const bare: BareFire[] = [];
  const bareWorker = new Worker(
    'bench-bare-schedules',
    async (job) => {
      const calledAt = nowMs();
      bare.push({
        id: job.id ?? '',
        due: Number(/:(\d+)$/.exec(job.id ?? '')?.[1] ?? NaN),
        processedOn: job.processedOn ?? NaN,
        calledAt,
      });
    },
    { connection, prefix: `${system.prefix}:bare`, concurrency: 4 },
  );
  const closeBull = onCleanup('BullMQ clients', async () => {
    await bareWorker.close(true);
    await bareQueue.close();
    await productQueue.close();
  });
  const scanIds: number[] = [];
  const deactivatedAt = new Map<number, number>();
  try {
    await bareWorker.waitUntilReady();
    const every = options.minuteMs;
    const created = nowMs();
    for (let i = 0; i < options.scans; i++) {
      // Through the gateways in turn: each one puts its scan's job scheduler.
      const r = await postJson(
        system.urls[i % system.urls.length],
        '/api/scans',
        {
          // Benchmarks time the scan and its report, not the rescan of its changes.
          verify_changes: false,
          name: `schedule benchmark ${i + 1}`,
          target: host,
          ports: String(listener.port),
          scan_arguments: '-sT -Pn -n',
          is_scheduled: true,
          interval_minutes: 1,
          is_active: true,
        },
        system.auth,
      );
      if (r.status !== 201)
        throw new Error(`POST /api/scans answered ${r.status}: ${JSON.stringify(r.body)}`);
      scanIds.push(r.body.scan.id);
      await bareQueue.upsertJobScheduler(`bare-${i + 1}`, { every }, { name: 'fire', data: {} });
    }

    // processedOn of the product's fire jobs, collected while they are still kept.
    const processedOn = new Map<string, number>();
    const collectJobs = async () => {
      for (const job of await productQueue.getJobs(['completed', 'failed', 'active'], 0, 1000)) {
        if (job?.id && job.processedOn) processedOn.set(job.id, job.processedOn);
      }
    };
    const em = () => orm.em.fork();
    const deadline = created + (options.fires / options.scans + 10) * every * 3 + 60_000;
    process.stderr.write(`schedules: ${options.scans} scans every ${every} ms until ${options.fires} fires`);
    let last = -1;
    for (;;) {
      await sleep(Math.min(1000, every));
      await collectJobs();
      const count = await em().count(ScheduleFire, { scan: { $in: scanIds } });
      if (count !== last) process.stderr.write(` ${count}`);
      last = count;
      if (count >= options.fires && bare.length >= options.fires) break;
      if (nowMs() > deadline)
        throw new Error(
          `only ${count} fires (${bare.length} bare) within ${Math.round(deadline - created)} ms`,
        );
    }
    // Deactivated through the gateways in turn; the bare schedulers removed at the same time.
    for (const [i, id] of scanIds.entries()) {
      const r = await postJson(
        system.urls[i % system.urls.length],
        `/api/scans/${id}/toggle`,
        {},
        system.auth,
      );
      if (r.status !== 200 || r.body?.scan?.is_active !== false)
        throw new Error(`toggle ${id} answered ${r.status}: ${JSON.stringify(r.body)}`);
      deactivatedAt.set(id, nowMs());
      await bareQueue.removeJobScheduler(`bare-${i + 1}`);
    }
    await collectJobs();
    // Every run to end, then two more intervals: a fire after the deactivation would show up by then.
    const runsDeadline = nowMs() + 60_000;
    while ((await em().count(ScanResult, { scan: { $in: scanIds }, finishedAt: null })) > 0) {
      if (nowMs() > runsDeadline) throw new Error('scheduled runs still running 60 s after the deactivation');
      await sleep(200);
    }
    await sleep(2 * every);
    process.stderr.write('\n');

    const fires = await em().find(ScheduleFire, { scan: { $in: scanIds } }, { orderBy: { id: 'asc' } });
    const runs = await em().find(ScanResult, { scan: { $in: scanIds } }, { orderBy: { id: 'asc' } });
    return report(options, system, host, listener.port, fires, runs, processedOn, bare, deactivatedAt);
  } finally {
    // Whatever failed above, no schedule is left firing.
    for (const [i, id] of scanIds.entries()) {
      if (!deactivatedAt.has(id))
        await postJson(system.urls[i % system.urls.length], `/api/scans/${id}/toggle`, {}, system.auth).catch(
          () => undefined,
        );
    }
    await closeBull();
    await closeOrm();
    await system.close();
    await closeListener();
  }
}

function report(
  options: SchedulesOptions,
  system: BenchSystem,
  host: string,
  port: number,
  fires: ScheduleFire[],
  runs: ScanResult[],
  processedOn: Map<string, number>,
  bare: BareFire[],
  deactivatedAt: Map<number, number>,
): SchedulesResult {
  const due = (f: ScheduleFire) => f.dueAt.getTime();
  const lateness = fires.map((f) => f.firedAt.getTime() - due(f));
  const withJob = fires.filter((f) => processedOn.has(f.fireKey));
  const pickup = withJob.map((f) => processedOn.get(f.fireKey)! - due(f));
  const handling = withJob.map((f) => f.firedAt.getTime() - processedOn.get(f.fireKey)!);
  const runById = new Map(runs.map((r) => [r.id, r]));
  const started = fires.filter((f) => f.outcome === 'started');
  const skipped = fires.filter((f) => f.outcome === 'skipped');
  const runStart = started
    .map((f) => runById.get(f.resultId!)?.startedAt?.getTime())
    .map((t, i) => (t === undefined ? NaN : t - due(started[i])))
    .filter(Number.isFinite);

  // Duplicates: a due time handled twice for a scan, and runs not matched to exactly one started fire.
  const seen = new Set<string>();
  let repeatedDue = 0;
  for (const f of fires) {
    const key = `${f.scan.id}:${due(f)}`;
    if (seen.has(key)) repeatedDue++;
    seen.add(key);
  }
  const scheduleRuns = runs.filter((r) => r.trigger === 'schedule');
  const firesOfRun = new Map<number, number>();
  for (const f of started) firesOfRun.set(f.resultId!, (firesOfRun.get(f.resultId!) ?? 0) + 1);
  const unmatchedRuns = scheduleRuns.filter((r) => firesOfRun.get(r.id) !== 1).length;
  const unmatchedFires = started.filter((f) => runById.get(f.resultId!)?.trigger !== 'schedule').length;
  const duplicates = repeatedDue + unmatchedRuns + unmatchedFires;
  // Never two runs of one scan at once.
  let overlaps = 0;
  const byScan = new Map<number, ScanResult[]>();
  for (const r of runs) byScan.set(r.scan.id, [...(byScan.get(r.scan.id) ?? []), r]);
  for (const list of byScan.values()) {
    const spans = list
      .map((r) => [r.startedAt?.getTime() ?? r.createdAt.getTime(), r.finishedAt?.getTime() ?? Infinity])
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) if (spans[i][0] < spans[i - 1][1]) overlaps++;
  }
  // Due times BullMQ left out (a gap of more than 1.5 intervals between a scan's consecutive fires).
  const every = options.minuteMs;
  const gaps = (dues: number[][]) =>
    dues.reduce((n, list) => {
      const sorted = [...list].sort((a, b) => a - b);
      for (let i = 1; i < sorted.length; i++) if (sorted[i] - sorted[i - 1] > 1.5 * every) n++;
      return n;
    }, 0);
  const productDues = [...new Set(fires.map((f) => f.scan.id))].map((id) =>
    fires.filter((f) => f.scan.id === id).map(due),
  );
  const bareDues = [...new Set(bare.map((b) => b.id.replace(/:\d+$/, '')))].map((scheduler) =>
    bare.filter((b) => b.id.startsWith(`${scheduler}:`)).map((b) => b.due),
  );
  const afterDeactivation = fires.filter(
    (f) => f.firedAt.getTime() > (deactivatedAt.get(f.scan.id) ?? Infinity),
  );
  const bareRepeated = bare.length - new Set(bare.map((b) => b.id)).size;

  const bareLate = bare.map((b) => b.processedOn - b.due);
  const bareCalled = bare.map((b) => b.calledAt - b.due);
  const p99 = quantile(lateness, 0.99);
  const met = p99 <= SCHEDULES_TARGET_P99_MS && duplicates === 0;
  const row = (name: string, values: number[]) => [
    name,
    values.length,
    fmt(quantile(values, 0.5)),
    fmt(quantile(values, 0.9)),
    fmt(quantile(values, 0.99)),
    fmt(Math.max(...values)),
  ];
  const latenessTable = markdownTable(
    ['lateness against the due time', 'fires', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    [
      row('**product: `fired_at − due_at`** (schedule_fires, every fire)', lateness),
      row('… of which BullMQ: job `processedOn` − due (the product’s worker picks the job)', pickup),
      row(
        '… of which the product: `fired_at` − `processedOn` (scan lookup, checks, run + fire rows)',
        handling,
      ),
      row('product: due → the run’s `started_at` (its batch picked up by a worker)', runStart),
      row('**BullMQ alone: job `processedOn` − due** (bare scheduler, same interval, same time)', bareLate),
      row('BullMQ alone: processor called − due', bareCalled),
    ],
  );
  const countsTable = markdownTable(
    ['check', 'product', 'BullMQ alone'],
    [
      ['fires (started / skipped)', `${fires.length} (${started.length} / ${skipped.length})`, bare.length],
      [
        'runs with trigger `schedule` (all runs of the scans)',
        `${scheduleRuns.length} (${runs.length})`,
        '—',
      ],
      ['**duplicates**: a due time handled twice for a scan', `**${repeatedDue}**`, `**${bareRepeated}**`],
      ['**duplicates**: schedule runs not matched to exactly one started fire', `**${unmatchedRuns}**`, '—'],
      ['**duplicates**: started fires without their schedule run', `**${unmatchedFires}**`, '—'],
      ['two runs of one scan at once', overlaps, '—'],
      ['due times left out (gap > 1.5 intervals)', gaps(productDues), gaps(bareDues)],
      ['fires recorded after the scan was deactivated', afterDeactivation.length, '—'],
    ],
  );
  const reasons = [...new Set(skipped.map((f) => f.reason?.replace(/\(\d+\)/, '(…)') ?? ''))];
  const markdown = [
    `### schedules: ${options.scans} scans every ${every} ms on 2 gateways and 2 workers (${options.database})`,
    '',
    `${options.scans} scan definitions (\`interval_minutes\` 1 with SCHEDULE_MINUTE_MS=${every}, test-only; target ` +
      `${host}, port ${port} open on a listener, \`-sT -Pn -n\`), created through the 2 gateways in turn, until ` +
      `${options.fires} fires in all; then deactivated (\`POST /api/scans/{id}/toggle\`) through the gateways in turn. ` +
      `2 worker processes (WORKER_CONCURRENCY=2; the schedule consumer takes 4 fires at once) on one ` +
      `${options.database} database and Redis prefix \`${system.prefix}\`. Fires and runs read from the tables ` +
      `\`schedule_fires\` and \`scan_results\`; \`processedOn\` from the product's completed fire jobs (BullMQ keeps ` +
      `the last 100, read every second). Alongside, in the benchmark process: ${options.scans} bare BullMQ job ` +
      `schedulers (\`every: ${every}\`) on a throwaway queue with a Worker of concurrency 4. Due time = the ms in ` +
      `the job id \`repeat:<scheduler>:<due>\`.`,
    '',
    latenessTable,
    '',
    countsTable,
    '',
    ...(skipped.length > 0
      ? [`Skipped fires' reasons: ${reasons.map((r) => `“${r}”`).join('; ')}.`, '']
      : []),
    `Target: lateness p99 ≤ ${SCHEDULES_TARGET_P99_MS} ms and 0 duplicates → **${met ? 'met' : 'MISSED'}** ` +
      `(p99 ${fmt(p99)} ms, ${duplicates} duplicates).`,
  ].join('\n');
  return { markdown, p99, duplicates, met };
}
