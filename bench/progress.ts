// Benchmark `progress` (issue 20, point 4): the `scale` benchmark's scan through the API (127.0.0.0/22 × ports
// 1-1000, chunk_size 256, 2 batches at a time on 2 worker processes) with a WebSocket subscriber, recording every
// `progress` event. The ETA the run reported when its percent first reached 25, 50 and 75 % is compared with the
// time it really took from there to scan_complete. Also: the progress events each batch sent while it ran.
import {
  assertLoopback,
  fmt,
  markdownTable,
  runScanToCompletion,
  startBenchSystem,
  TimedEvent,
} from './support';
import { SCALE_DEFAULTS, ScaleOptions } from './scale';

export interface ProgressOptions extends Pick<
  ScaleOptions,
  'workerConcurrency' | 'scanConcurrency' | 'workers' | 'chunkSize' | 'target' | 'ports' | 'database'
> {
  runs: number;
  /** NMAP_STATS_EVERY of the workers (seconds). */
  statsEvery: number;
}

export const PROGRESS_DEFAULTS: ProgressOptions = {
  ...SCALE_DEFAULTS,
  runs: 3,
  statsEvery: 2,
};
/** The issue's target: the ETA at half-way within ±50 % of the time the run really took from there. */
export const ETA_TOLERANCE = 0.5;
const MARKS = [25, 50, 75];
const RUN_TIMEOUT_MS = 240_000;

/** One run: its length and, at each mark, the ETA reported and the truth (seconds). */
interface ProgressRun {
  wall: number;
  marks: Array<{ mark: number; at: number; percent: number; eta: number; actual: number } | undefined>;
  /** Per batch: progress events sent while it ran, and how many had a batch percent strictly between 0 and 100. */
  batchEvents: Array<{ batch: number; events: number; between: number }>;
  events: number;
}

export interface ProgressResult {
  markdown: string;
  met: boolean;
  summary: string;
}

/** The relative error of an ETA: (reported − actual) / actual. */
export function etaError(eta: number, actual: number): number {
  return actual > 0 ? (eta - actual) / actual : eta === 0 ? 0 : Infinity;
}

export async function runProgress(options: ProgressOptions): Promise<ProgressResult> {
  const target = assertLoopback(options.target);
  const flags = ['-sT', '-Pn', '-n', '-p', options.ports];
  const system = await startBenchSystem({
    workers: options.workers,
    workerConcurrency: options.workerConcurrency,
    database: options.database,
    env: { NMAP_STATS_EVERY: String(options.statsEvery) },
  });
  try {
    process.stderr.write(`progress: ${options.runs} runs`);
    const runs: ProgressRun[] = [];
    for (let i = 0; i < options.runs; i++) {
      const { started, socket, done } = await runScanToCompletion(
        system,
        {
          nmap_flags: flags,
          targets: [target],
          chunk_size: options.chunkSize,
          concurrency: options.scanConcurrency,
        },
        RUN_TIMEOUT_MS,
      );
      runs.push(measure(started.sentAt, socket.events, done));
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    return report(options, flags, target, runs);
  } finally {
    await system.close();
  }
}

function measure(sentAt: number, events: TimedEvent[], done: TimedEvent): ProgressRun {
  const progress = events.filter((e) => e.msg.event === 'progress');
  const seconds = (ms: number) => ms / 1000;
  const marks = MARKS.map((mark) => {
    const first = progress.find((e) => e.msg.percent >= mark && typeof e.msg.eta_seconds === 'number');
    if (!first) return undefined;
    return {
      mark,
      at: seconds(first.recvAt - sentAt),
      percent: first.msg.percent as number,
      eta: first.msg.eta_seconds as number,
      actual: seconds(done.recvAt - first.recvAt),
    };
  });
  const batches = new Map<number, { events: number; between: number }>();
  for (const e of progress) {
    if (typeof e.msg.batch_id !== 'number') continue;
    const entry = batches.get(e.msg.batch_id) ?? { events: 0, between: 0 };
    entry.events += 1;
    if (e.msg.batch.percent > 0 && e.msg.batch.percent < 100) entry.between += 1;
    batches.set(e.msg.batch_id, entry);
  }
  return {
    wall: seconds(done.recvAt - sentAt),
    marks,
    batchEvents: [...batches].sort((a, b) => a[0] - b[0]).map(([batch, v]) => ({ batch, ...v })),
    events: progress.length,
  };
}

function report(
  options: ProgressOptions,
  flags: string[],
  target: string,
  runs: ProgressRun[],
): ProgressResult {
  const rows: Array<Array<string | number>> = [];
  runs.forEach((run, i) => {
    for (const mark of run.marks) {
      if (!mark) continue;
      const error = etaError(mark.eta, mark.actual);
      rows.push([
        i + 1,
        fmt(run.wall),
        `${mark.mark} % (${fmt(mark.percent, 2)})`,
        fmt(mark.at),
        mark.eta,
        fmt(mark.actual),
        `${error >= 0 ? '+' : ''}${fmt(error * 100, 0)} %`,
      ]);
    }
  });
  const halfway = runs.map((run) => run.marks[MARKS.indexOf(50)]);
  const errors = halfway.map((m) => (m ? etaError(m.eta, m.actual) : Infinity));
  const met = errors.every((e) => Math.abs(e) <= ETA_TOLERANCE);
  const batchesBetween = runs.map((run) => run.batchEvents.filter((b) => b.between > 0).length);
  const summary =
    `ETA at 50 %: ${errors.map((e) => `${e >= 0 ? '+' : ''}${fmt(e * 100, 0)} %`).join(', ')} of the truth ` +
    `(target ±${ETA_TOLERANCE * 100} %); batches with a progress value between 0 and 100: ` +
    `${batchesBetween.join(', ')} of ${runs[0]?.batchEvents.length ?? 0}`;
  const markdown = [
    `nmap ${flags.join(' ')} over ${target} through the API: chunk_size ${options.chunkSize}, concurrency ` +
      `${options.scanConcurrency}, ${options.workers} workers × WORKER_CONCURRENCY ${options.workerConcurrency}, ` +
      `NMAP_STATS_EVERY ${options.statsEvery}, ${options.database}. The ETA is the first \`progress\` event's ` +
      '`eta_seconds` at or past each mark; "actual" is the time from that event to `scan_complete` (both as the ' +
      'WebSocket client received them).',
    '',
    markdownTable(['run', 'run s', 'mark (percent)', 'at s', 'ETA s', 'actual s', 'ETA error'], rows),
    '',
    markdownTable(
      ['run', 'progress events', 'per batch: events (of them 0 < batch percent < 100)'],
      runs.map((run, i) => [
        i + 1,
        run.events,
        run.batchEvents.map((b) => `#${b.batch}: ${b.events} (${b.between})`).join(', '),
      ]),
    ),
    '',
    `**${met ? 'Met' : 'Missed'}**: ${summary}.`,
  ].join('\n');
  return { markdown, met, summary };
}
