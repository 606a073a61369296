// `bench/run.ts profile`: where the API path of the overhead benchmark spends its time. The overhead scan
// (1 host × 10 ports) runs through an instrumented gateway and worker (bench/instrument.js, preloaded) and the
// spans they record (service methods, every SQL statement, Redis command and child process) are attributed to
// the run whose window they fall in. The timings are slightly inflated by the instrumentation itself; use them
// for the split, the overhead benchmark for the totals.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseKind } from '../test/support/database';
import { Listener, listenOn } from '../test/support/listeners';
import {
  assertLoopback,
  fmt,
  markdownTable,
  median,
  onCleanup,
  p90,
  runScanToCompletion,
  runNmapDirect,
  sleep,
  startBenchSystem,
} from './support';

export interface ProfileOptions {
  runs: number;
  warmup: number;
  database: DatabaseKind;
  host: string;
  /** Also write V8 CPU profiles of gateway and worker (node --cpu-prof) into this directory. */
  cpuProfDir?: string;
}

export const PROFILE_DEFAULTS: ProfileOptions = {
  runs: 15,
  warmup: 3,
  database: 'sqlite',
  host: '127.0.0.77',
};

/** One span of bench/instrument.js: role, pid, name, start and end (ms, wall clock), detail. */
export interface Span {
  r: 'gateway' | 'worker' | 'other';
  p: number;
  n: string;
  s: number;
  e: number;
  d?: any;
}

interface Window {
  t0: number;
  response: number;
  done: number;
  events: Record<string, number>;
}

export async function runProfile(options: ProfileOptions): Promise<string> {
  const host = assertLoopback(options.host);
  const traceDir = await mkdtemp(join(tmpdir(), 'nsobench-trace-'));
  const removeTraces = onCleanup('trace files', () => rm(traceDir, { recursive: true, force: true }));
  const listeners: Listener[] = [await listenOn(host), await listenOn(host)];
  const closeListeners = onCleanup('listeners', () => Promise.all(listeners.map((l) => l.close())));
  const ports = [...listeners.map((l) => l.port), 1, 2, 3, 4, 5, 6, 7, 8].sort((a, b) => a - b).join(',');
  const flags = ['-sT', '-Pn', '-n', '-p', ports];
  const system = await startBenchSystem({
    workers: 1,
    workerConcurrency: 2,
    database: options.database,
    env: {
      NODE_OPTIONS: `--require ${join(__dirname, 'instrument.js')}`,
      BENCH_TRACE_DIR: traceDir,
    },
    nodeArgs: options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [],
  });
  const windows: Window[] = [];
  const direct: number[] = [];
  try {
    process.stderr.write(`profile: ${options.warmup} warm-up + ${options.runs} instrumented API runs`);
    for (let i = 0; i < options.warmup + options.runs; i++) {
      const { started, socket, done } = await runScanToCompletion(
        system,
        { nmap_flags: flags, targets: [host] },
        30_000,
      );
      const events: Record<string, number> = {};
      for (const e of socket.events) {
        if (e.msg.ts && events[e.msg.event] === undefined) events[e.msg.event] = Date.parse(e.msg.ts);
      }
      const lines = socket.events.filter((e) => e.msg.event === 'line');
      events.last_line = Date.parse(lines[lines.length - 1].msg.ts);
      if (i >= options.warmup)
        windows.push({ t0: started.sentAt, response: started.ms, done: done.recvAt, events });
      // A quiet gap, so that each run's spans are its own, and a direct run for reference.
      await sleep(100);
      direct.push((await runNmapDirect([...flags, host], 30_000)).ms);
      await sleep(100);
      process.stderr.write('.');
    }
    process.stderr.write('\n');
  } finally {
    await system.close();
    await closeListeners();
  }
  const spans = await readSpans(traceDir);
  await removeTraces();
  return analyse(options, flags, host, windows, direct, spans);
}

/** Every span written into the trace directory by the instrumented processes. */
export async function readSpans(dir: string): Promise<Span[]> {
  const spans: Span[] = [];
  for (const file of await readdir(dir)) {
    for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
      if (line) spans.push(JSON.parse(line));
    }
  }
  return spans;
}

export interface ScaleProfileOptions {
  runs: number;
  database: DatabaseKind;
  workerConcurrency: number;
  scanConcurrency: number;
  target: string;
  ports: string;
  chunkSize: number;
}

export const SCALE_PROFILE_DEFAULTS: ScaleProfileOptions = {
  runs: 1,
  database: 'sqlite',
  workerConcurrency: 1,
  scanConcurrency: 2,
  target: '127.0.0.0/22',
  ports: '1-1000',
  chunkSize: 256,
};

/**
 * `bench/run.ts profile-scale`: the scale scan through instrumented workers; per batch, what the worker spends
 * around nmap (set-up, XML parse, storing, accounting) and how long a freed slot waits for its next batch.
 */
export async function runScaleProfile(options: ScaleProfileOptions): Promise<string> {
  const target = assertLoopback(options.target);
  const flags = ['-sT', '-Pn', '-n', '-p', options.ports];
  const traceDir = await mkdtemp(join(tmpdir(), 'nsobench-trace-'));
  const removeTraces = onCleanup('trace files', () => rm(traceDir, { recursive: true, force: true }));
  const system = await startBenchSystem({
    workers: 2,
    workerConcurrency: options.workerConcurrency,
    database: options.database,
    env: { NODE_OPTIONS: `--require ${join(__dirname, 'instrument.js')}`, BENCH_TRACE_DIR: traceDir },
  });
  const windows: Array<{ t0: number; done: number }> = [];
  try {
    process.stderr.write(`profile-scale: warm-up + ${options.runs} instrumented runs`);
    for (let i = 0; i <= options.runs; i++) {
      const body =
        i === 0
          ? { nmap_flags: ['-sT', '-Pn', '-n', '-p', '1-100'], targets: ['127.0.0.0/28'], chunk_size: 4 }
          : { nmap_flags: flags, targets: [target], chunk_size: options.chunkSize };
      const { started, done } = await runScanToCompletion(
        system,
        { ...body, concurrency: options.scanConcurrency },
        240_000,
      );
      if (i > 0) windows.push({ t0: started.sentAt, done: done.recvAt });
      await sleep(300);
      process.stderr.write('.');
    }
    process.stderr.write('\n');
  } finally {
    await system.close();
  }
  const spans = await readSpans(traceDir);
  await removeTraces();

  const rows: string[][] = [];
  const d = (x: Span | undefined) => (x ? x.e - x.s : NaN);
  for (const [w, window] of windows.entries()) {
    const mine = spans.filter((s) => s.s >= window.t0 && s.s <= window.done && s.r === 'worker');
    const jobs = mine.filter((s) => s.n === 'BatchRunService.run').sort((a, b) => a.s - b.s);
    // When each worker handed the next batch to the queue (account → enqueue), to time the pickup.
    const enqueues = mine.filter((s) => s.n === 'BatchQueue.enqueue').sort((a, b) => a.e - b.e);
    for (const job of jobs) {
      const inJob = mine.filter((s) => s.p === job.p && s.s >= job.s && s.e <= job.e + 0.01);
      const one = (n: string) => inJob.find((s) => s.n === n);
      const runNmap = one('BatchRunService.runNmap');
      const nmap = one('process nmap');
      const store = one('BatchRepository.storeResult');
      const account = one('BatchRunService.account');
      const sqlIn = (outer: Span | undefined) =>
        outer
          ? inJob
              .filter((s) => s.n === 'sql' && s.s >= outer.s && s.e <= outer.e + 0.01)
              .reduce((a, s) => a + d(s), 0)
          : NaN;
      const handedOver = enqueues.filter((e) => e.e <= job.s).pop();
      rows.push([
        String(w + 1),
        String(jobs.indexOf(job) + 1),
        handedOver && jobs.indexOf(job) >= options.scanConcurrency ? fmt(job.s - handedOver.e) : '—',
        fmt(runNmap ? runNmap.s - job.s : NaN),
        fmt(nmap && runNmap ? nmap.s - runNmap.s : NaN),
        fmt(d(nmap) / 1000, 2),
        fmt(nmap && runNmap ? runNmap.e - nmap.e : NaN),
        fmt(d(one('parseNmapXml'))),
        `${fmt(d(store))} (${fmt(sqlIn(store))})`,
        fmt(d(account)),
        fmt(d(one('RunFinalizer.complete'))),
        String(inJob.filter((s) => s.n === 'redis evalsha').length),
      ]);
    }
  }
  return [
    `### profile of the scale scan (${options.database}, instrumented)`,
    '',
    `\`nmap ${flags.join(' ')}\` over ${target}, chunk_size ${options.chunkSize}, 2 workers × WORKER_CONCURRENCY=${options.workerConcurrency}, ` +
      `concurrency ${options.scanConcurrency}; ${windows.length} instrumented run(s) after a small warm-up. Jobs in the order they started; ms unless noted.`,
    '',
    markdownTable(
      [
        'run',
        'job',
        'next batch enqueued → job starts',
        'job start → runNmap',
        'runNmap → nmap spawned',
        'nmap process (s)',
        'nmap exit → runNmap end (line publishes, XML parse)',
        'parseNmapXml',
        'storeBatchResult (of which SQL)',
        'account',
        'finalizer',
        'Redis EVALSHA (events)',
      ],
      rows,
    ),
  ].join('\n');
}

function analyse(
  options: ProfileOptions,
  flags: string[],
  host: string,
  windows: Window[],
  direct: number[],
  spans: Span[],
): string {
  type Row = Record<string, number>;
  const rows: Row[] = [];
  const timelines: string[][] = [];
  for (const w of windows) {
    const mine = spans
      .filter(
        (s) =>
          s.s >= w.t0 - 1 && s.s <= w.done + 20 && !/redis (bzpopmin|bzpopmax|brpoplpush|blmove)/i.test(s.n),
      )
      .sort((a, b) => a.s - b.s);
    const one = (r: string, n: string) => mine.find((s) => s.r === r && s.n === n);
    const within = (outer: Span | undefined, pred: (s: Span) => boolean) =>
      outer ? mine.filter((s) => s.r === outer.r && s.s >= outer.s && s.e <= outer.e + 0.01 && pred(s)) : [];
    const sum = (list: Span[]) => list.reduce((a, s) => a + (s.e - s.s), 0);
    const isSql = (s: Span) => s.n === 'sql';
    const isRedis = (s: Span) => s.n.startsWith('redis ');

    const start = one('gateway', 'ScansService.start');
    const enqueue = one('gateway', 'BatchQueue.enqueue');
    const run = one('worker', 'BatchRunService.run');
    const runNmap = one('worker', 'BatchRunService.runNmap');
    const pipe = one('worker', 'NmapProcessRunner.openXmlPipe');
    const mkfifo = one('worker', 'process mkfifo');
    const nmap = one('worker', 'process nmap');
    const parse = one('worker', 'parseNmapXml');
    const store = one('worker', 'BatchRepository.storeResult');
    const account = one('worker', 'BatchRunService.account');
    const finalize = one('worker', 'RunFinalizer.complete');
    if (!start || !enqueue || !run || !runNmap || !nmap || !store || !account || !finalize || !pipe) {
      throw new Error(
        `profile: spans missing in a run (got ${[...new Set(mine.map((s) => s.n))].join(', ')})`,
      );
    }
    const beforeNmap = mine.filter((s) => s.r === 'worker' && s.s >= run.s && s.e <= runNmap.s);
    const row: Row = {
      'client: POST round trip': w.response,
      'gateway: ScansService.start': start.e - start.s,
      'gateway: HTTP/Nest outside ScansService.start': w.response - (start.e - start.s),
      'gateway: SQL inside start': sum(within(start, isSql)),
      'gateway: SQL statements inside start': within(start, isSql).length,
      'gateway: Redis inside start (run state, addBulk)': sum(within(start, isRedis)),
      'BullMQ: addBulk done → worker picks the job': run.s - enqueue.e,
      'worker: job start → runNmap (stop flag, scope, policy, batch_start)': runNmap.s - run.s,
      'worker: SQL before runNmap': sum(beforeNmap.filter(isSql)),
      'worker: SQL statements before runNmap': beforeNmap.filter(isSql).length,
      'worker: runNmap → spawn nmap (stop flag, mkfifo pipe)': nmap.s - runNmap.s,
      '  of which mkfifo process': mkfifo ? mkfifo.e - mkfifo.s : NaN,
      'worker: nmap process spawn → exit': nmap.e - nmap.s,
      '  of which spawn → first stdout byte': nmap.d?.firstStdout ?? NaN,
      'worker: nmap exit → runNmap end (XML drain, line publishes, parse)': runNmap.e - nmap.e,
      '  of which parseNmapXml': parse ? parse.e - parse.s : NaN,
      'worker: storeBatchResult (one transaction)': store.e - store.s,
      'worker: SQL statements in storeBatchResult': within(store, isSql).length,
      'worker: SQL time in storeBatchResult': sum(within(store, isSql)),
      'worker: account until finalizer (finish Lua, batch_complete + progress)': finalize.s - account.s,
      'worker: RunFinalizer.complete (aggregate, update, publish)': finalize.e - finalize.s,
      'worker: SQL time in finalizer': sum(within(finalize, isSql)),
      'worker: whole job (BatchRunService.run)': run.e - run.s,
      'worker: SQL time in the whole job': sum(within(run, isSql)),
      'worker: SQL statements in the whole job': within(run, isSql).length,
      'worker: Redis commands in the whole job': within(run, isRedis).length,
      'scan_complete ts → received on WS': w.done - w.events.scan_complete,
      'total: POST sent → scan_complete received': w.done - w.t0,
    };
    rows.push(row);
    timelines.push(
      mine.map(
        (s) =>
          `${fmt(s.s - w.t0, 1).padStart(7)} +${fmt(s.e - s.s, 2).padStart(6)}  ${s.r.padEnd(7)} ${s.n}${
            s.d ? ` ${typeof s.d === 'string' ? s.d : JSON.stringify(s.d)}` : ''
          }`,
      ),
    );
  }
  const keys = Object.keys(rows[0]);
  const table = markdownTable(
    ['step', 'median ms', 'p90 ms'],
    keys.map((k) => {
      const values = rows.map((r) => r[k]).filter((v) => Number.isFinite(v));
      const count = k.includes('statements') || k.includes('commands');
      return [k, fmt(median(values), count ? 0 : 1), fmt(p90(values), count ? 0 : 1)];
    }),
  );
  // The timeline of the run whose total is the median one.
  const totals = rows.map((r) => r['total: POST sent → scan_complete received']);
  const mid = totals.indexOf([...totals].sort((a, b) => a - b)[Math.floor(totals.length / 2)]);
  return [
    `### profile of the overhead scan (${options.database}, instrumented)`,
    '',
    `${windows.length} instrumented API runs of \`nmap ${flags.join(' ')} ${host}\` after ${options.warmup} warm-up runs; ` +
      `direct nmap of the same command between them: median ${fmt(median(direct))} ms. Spans from bench/instrument.js ` +
      `(preloaded into gateway and worker); the instrumentation adds a little to each step.`,
    '',
    table,
    '',
    `<details><summary>Timeline of the median run (ms after POST sent, + duration)</summary>`,
    '',
    '```',
    ...timelines[mid],
    '```',
    '',
    '</details>',
  ].join('\n');
}
