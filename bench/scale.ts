// Benchmark 2, scale: 127.0.0.0/22 × ports 1-1000 through the API (chunk_size 256, 2 worker processes) against one
// direct nmap over the same range with the same flags. Wall time of each, ratio API/direct.
import { cpus } from 'node:os';
import type { DatabaseKind } from '../test/support/database';
import {
  assertLoopback,
  BenchSystem,
  cpuTimesOf,
  fmt,
  machineCpu,
  markdownTable,
  median,
  runScanToCompletion,
  runNmapDirect,
  startBenchSystem,
  TimedEvent,
} from './support';

export interface ScaleOptions {
  runs: number;
  /** WORKER_CONCURRENCY of each worker process. */
  workerConcurrency: number;
  /** The scan's `concurrency`: batches of the run active at once across workers. */
  scanConcurrency: number;
  workers: number;
  chunkSize: number;
  target: string;
  ports: string;
  database: DatabaseKind;
}

// 2 cores: one nmap per core. Each worker process runs one nmap at a time and the run keeps two batches active,
// so the 4 batches run as two waves of two; more nmaps than cores only add contention (see bench/README.md).
export const SCALE_DEFAULTS: ScaleOptions = {
  runs: 3,
  workerConcurrency: 1,
  scanConcurrency: 2,
  workers: 2,
  chunkSize: 256,
  target: '127.0.0.0/22',
  ports: '1-1000',
  database: 'sqlite',
};
export const SCALE_TARGET_RATIO = 0.65;
const RUN_TIMEOUT_MS = 240_000;

interface BatchTiming {
  batch: number;
  worker: string;
  start: number;
  firstLine: number;
  lastLine: number;
  complete: number;
}

/** CPU seconds spent during one run, by whom. */
interface CpuUse {
  softirq: number;
  nmap: number;
  workers: number;
  gateway: number;
  client: number;
  others: number;
}

interface ApiRun {
  cpu: CpuUse;
  wall: number;
  response: number;
  scanComplete: number;
  batches: BatchTiming[];
  hostsUp: number;
}

export interface ScaleResult {
  markdown: string;
  apiMedian: number;
  directMedian: number;
  ratio: number;
  met: boolean;
}

export async function runScale(options: ScaleOptions): Promise<ScaleResult> {
  const target = assertLoopback(options.target);
  const flags = ['-sT', '-Pn', '-n', '-p', options.ports];
  const system = await startBenchSystem({
    workers: options.workers,
    workerConcurrency: options.workerConcurrency,
    database: options.database,
  });
  try {
    // Warm-up: a small run that reaches every worker, and a small direct run.
    process.stderr.write('scale: warm-up');
    await runApi(
      system,
      ['-sT', '-Pn', '-n', '-p', '1-100'],
      assertLoopback('127.0.0.0/28'),
      4,
      options.scanConcurrency,
      16,
    );
    await runNmapDirect(['-sT', '-Pn', '-n', '-p', '1-100', assertLoopback('127.0.0.0/28')], 60_000);
    process.stderr.write(`\nscale: ${options.runs} runs of each, interleaved`);
    const api: ApiRun[] = [];
    const direct: number[] = [];
    const directCpu: CpuUse[] = [];
    const split: number[] = [];
    const splitCpu: CpuUse[] = [];
    const chunks = splitCidr(target, options.chunkSize);
    const hostCount = 2 ** (32 - Number(target.split('/')[1] ?? 32));
    const runDirect = async () => {
      const meter = cpuMeter(undefined);
      const run = await runNmapDirect([...flags, target], RUN_TIMEOUT_MS);
      directCpu.push(meter());
      const up = Number(/\((\d+) hosts? up\)/.exec(run.stdout)?.[1] ?? -1);
      if (run.exitCode !== 0 || up !== hostCount)
        throw new Error(`direct nmap: exit ${run.exitCode}, ${up} hosts up`);
      direct.push(run.ms);
    };
    // Reference: the API's schedule without the API. The same chunks as separate direct nmaps, `concurrency` at
    // a time. What the box itself gives for parallel nmaps, so the orchestration's own cost can be told apart.
    const runSplit = async () => {
      if (!chunks) return;
      const meter = cpuMeter(undefined);
      const startedAt = performance.now();
      const queue = [...chunks];
      const slot = async () => {
        for (let chunk = queue.shift(); chunk; chunk = queue.shift()) {
          const run = await runNmapDirect([...flags, chunk], RUN_TIMEOUT_MS);
          if (run.exitCode !== 0) throw new Error(`direct nmap of ${chunk}: exit ${run.exitCode}`);
        }
      };
      await Promise.all(Array.from({ length: options.scanConcurrency }, slot));
      split.push(performance.now() - startedAt);
      splitCpu.push(meter());
    };
    const runApiOnce = async () =>
      api.push(await runApi(system, flags, target, options.chunkSize, options.scanConcurrency, hostCount));
    // Order rotates between runs, so that no path always follows the same one.
    const steps = [runApiOnce, runDirect, runSplit];
    for (let i = 0; i < options.runs; i++) {
      for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]();
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    return report(
      options,
      flags,
      target,
      api,
      direct,
      directCpu,
      chunks ? { walls: split, cpu: splitCpu, chunks } : undefined,
    );
  } finally {
    await system.close();
  }
}

async function runApi(
  system: BenchSystem,
  flags: string[],
  target: string,
  chunkSize: number,
  concurrency: number,
  expectedHosts: number,
): Promise<ApiRun> {
  const meter = cpuMeter(system);
  const { started, socket, done } = await runScanToCompletion(
    system,
    { nmap_flags: flags, targets: [target], chunk_size: chunkSize, concurrency },
    RUN_TIMEOUT_MS,
  );
  const t0 = started.sentAt;
  const ts = (e: TimedEvent) => Date.parse(e.msg.ts) - t0;
  const byBatch = new Map<number, TimedEvent[]>();
  for (const e of socket.events) {
    if (typeof e.msg.batch_id !== 'number') continue;
    byBatch.set(e.msg.batch_id, [...(byBatch.get(e.msg.batch_id) ?? []), e]);
  }
  const batches: BatchTiming[] = [];
  let hostsUp = 0;
  for (const [batch, events] of [...byBatch].sort((a, b) => a[0] - b[0])) {
    const lines = events.filter((e) => e.msg.event === 'line');
    const start = events.find((e) => e.msg.event === 'batch_start')!;
    const complete = events.find((e) => e.msg.event === 'batch_complete');
    if (!complete) throw new Error(`batch ${batch} did not complete`);
    hostsUp += complete.msg.summary.hosts_up;
    batches.push({
      batch,
      worker: start.msg.worker,
      start: ts(start),
      firstLine: ts(lines[0]),
      lastLine: ts(lines[lines.length - 1]),
      complete: ts(complete),
    });
  }
  if (hostsUp !== expectedHosts)
    throw new Error(`API run found ${hostsUp} hosts up, expected ${expectedHosts}`);
  return {
    cpu: meter(),
    wall: done.recvAt - t0,
    response: started.ms,
    scanComplete: ts(done),
    batches,
    hostsUp,
  };
}

/** Starts measuring CPU time; the returned function says who used how much since, in seconds. */
function cpuMeter(system: BenchSystem | undefined): () => CpuUse {
  const pids = {
    gateway: system?.gateway.child.pid,
    workers: system?.workers.map((w) => w.child.pid!) ?? [],
  };
  const read = () => {
    const self = cpuTimesOf('self');
    const workers = pids.workers.map((pid) => cpuTimesOf(pid));
    const machine = machineCpu();
    return {
      machine: machine.busyMs,
      softirq: machine.softirqMs,
      // This process's reaped children are the direct nmap runs.
      client: self.selfMs,
      directNmap: self.childrenMs,
      gateway: pids.gateway ? cpuTimesOf(pids.gateway).selfMs : 0,
      workers: workers.reduce((a, t) => a + t.selfMs, 0),
      workerNmap: workers.reduce((a, t) => a + t.childrenMs, 0),
    };
  };
  const before = read();
  return () => {
    const after = read();
    const d = (k: keyof typeof before) => (after[k] - before[k]) / 1000;
    const nmap = d('directNmap') + d('workerNmap');
    const ours = nmap + d('client') + d('gateway') + d('workers') + d('softirq');
    return {
      nmap,
      workers: d('workers'),
      gateway: d('gateway'),
      client: d('client'),
      softirq: d('softirq'),
      others: Math.max(0, d('machine') - ours),
    };
  };
}

/** The CIDR split into blocks of `chunkSize` addresses (a power of two), in order; undefined otherwise. */
export function splitCidr(target: string, chunkSize: number): string[] | undefined {
  const [address, bits] = target.split('/');
  const prefix = Number(bits ?? 32);
  const chunkBits = Math.log2(chunkSize);
  if (!Number.isInteger(chunkBits) || 32 - chunkBits < prefix) return undefined;
  const base = address.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const count = 2 ** (32 - prefix) / chunkSize;
  const ip = (v: number) => [24, 16, 8, 0].map((shift) => Math.floor(v / 2 ** shift) % 256).join('.');
  return Array.from({ length: count }, (_, i) =>
    assertLoopback(`${ip(base + i * chunkSize)}/${32 - chunkBits}`),
  );
}

function report(
  options: ScaleOptions,
  flags: string[],
  target: string,
  api: ApiRun[],
  direct: number[],
  directCpu: CpuUse[],
  split: { walls: number[]; cpu: CpuUse[]; chunks: string[] } | undefined,
): ScaleResult {
  const apiWalls = api.map((r) => r.wall);
  const apiMedian = median(apiWalls);
  const directMedian = median(direct);
  const ratio = apiMedian / directMedian;
  const met = ratio <= SCALE_TARGET_RATIO;
  const s = (ms: number) => fmt(ms / 1000, 2);
  const main = markdownTable(
    ['path', 'runs (s)', 'median s'],
    [
      [
        `API: ${options.workers} workers × WORKER_CONCURRENCY=${options.workerConcurrency}, chunk_size ${options.chunkSize}, concurrency ${options.scanConcurrency}`,
        apiWalls.map(s).join(', '),
        s(apiMedian),
      ],
      [`direct: \`nmap ${flags.join(' ')} ${target}\``, direct.map(s).join(', '), s(directMedian)],
      ...(split
        ? [
            [
              `direct, split like the API: ${split.chunks.length} nmaps (${split.chunks[0]} …), ${options.scanConcurrency} at a time`,
              split.walls.map(s).join(', '),
              s(median(split.walls)),
            ],
          ]
        : []),
      [
        '**ratio API / direct (medians)**',
        api.map((r, i) => fmt(r.wall / direct[i], 3)).join(', '),
        `**${fmt(ratio, 3)}**`,
      ],
      ...(split
        ? [
            [
              'ratio direct split / direct (what parallel nmaps alone give on this machine)',
              split.walls.map((w, i) => fmt(w / direct[i], 3)).join(', '),
              fmt(median(split.walls) / directMedian, 3),
            ],
          ]
        : []),
    ],
  );
  // Where the API run's wall time goes, from the events' ts: batches' nmap time versus what surrounds it.
  const all = api.flatMap((r) => r.batches);
  const med = (f: (b: BatchTiming) => number) => fmt(median(all.map(f)));
  const firstStart = api.map((r) => Math.min(...r.batches.map((b) => b.start)));
  const lastComplete = api.map((r) => Math.max(...r.batches.map((b) => b.complete)));
  const tail = api.map((r, i) => r.scanComplete - lastComplete[i]);
  const received = api.map((r) => r.wall - r.scanComplete);
  // Gap: a batch that finished and the next batch started by the window (claimed in the same Lua call).
  const gaps: number[] = [];
  for (const r of api) {
    const sorted = [...r.batches].sort((a, b) => a.start - b.start);
    for (const b of sorted.slice(options.scanConcurrency)) {
      const before = r.batches.filter((x) => x.complete <= b.start).map((x) => x.complete);
      if (before.length > 0) gaps.push(b.start - Math.max(...before));
    }
  }
  const breakdown = markdownTable(
    ['step (from event `ts`)', 'median ms'],
    [
      ['POST sent → 200 received', fmt(median(api.map((r) => r.response)))],
      ['POST sent → first `batch_start`', fmt(median(firstStart))],
      [
        'per batch: `batch_start` → first `line` (mkfifo, spawn, nmap start-up)',
        med((b) => b.firstLine - b.start),
      ],
      ['per batch: first → last `line` (nmap scanning the chunk)', med((b) => b.lastLine - b.firstLine)],
      ['per batch: last `line` → `batch_complete` (XML parse, store)', med((b) => b.complete - b.lastLine)],
      ["`batch_complete` → next batch's `batch_start` (window refill, BullMQ pickup)", fmt(median(gaps))],
      ['last `batch_complete` → `scan_complete`', fmt(median(tail))],
      ['`scan_complete` ts → received on WS', fmt(median(received))],
    ],
  );
  const cpuRow = (name: string, uses: CpuUse[], walls: number[]) => {
    const m = (f: (c: CpuUse) => number) => fmt(median(uses.map(f)), 1);
    return [
      name,
      fmt(median(walls) / 1000, 2),
      m((c) => c.nmap),
      m((c) => c.workers),
      m((c) => c.gateway),
      m((c) => c.client),
      m((c) => c.softirq),
      m((c) => c.others),
    ];
  };
  const cpuTable = markdownTable(
    [
      'CPU seconds during a run (medians)',
      'wall s',
      'nmap',
      'worker processes',
      'gateway',
      'bench client',
      'kernel softirq',
      'other processes',
    ],
    [
      cpuRow(
        'API',
        api.map((r) => r.cpu),
        apiWalls,
      ),
      cpuRow('direct', directCpu, direct),
      ...(split ? [cpuRow('direct, split like the API', split.cpu, split.walls)] : []),
    ],
  );
  const perBatch = markdownTable(
    ['run', 'batch', 'worker', 'start → complete (s)', 'nmap lines span (s)'],
    api.flatMap((r, i) =>
      r.batches.map((b) => [
        i + 1,
        b.batch,
        b.worker.replace(/^nsobench-[0-9a-f]+-/, ''),
        `${s(b.start)} → ${s(b.complete)}`,
        s(b.lastLine - b.firstLine),
      ]),
    ),
  );
  const markdown = [
    `### scale: ${target} × ports ${options.ports} (${options.database})`,
    '',
    `Flags \`${flags.join(' ')}\`, chunk_size ${options.chunkSize} (${Math.ceil(2 ** (32 - Number(target.split('/')[1])) / options.chunkSize)} batches), ` +
      `${options.workers} worker processes with WORKER_CONCURRENCY=${options.workerConcurrency}, scan concurrency ${options.scanConcurrency}. ` +
      `Warm-up: one small API run and one small direct run; then ${options.runs} of each path, interleaved (order rotating). ` +
      `The "split" path runs the same chunks as separate direct nmaps, ${options.scanConcurrency} at a time: the API's schedule ` +
      `without the API, i.e. what parallel nmaps alone give on this machine.`,
    '',
    main,
    '',
    `Target: ratio at most ${SCALE_TARGET_RATIO} → **${met ? 'met' : 'MISSED'}** (${fmt(ratio, 3)}).`,
    '',
    'Where the API run spends its time (medians over all runs and batches):',
    '',
    breakdown,
    '',
    `Who used the ${cpus().length} CPUs (a run has wall × ${cpus().length} CPU seconds available):`,
    '',
    cpuTable,
    '',
    '<details><summary>Per batch (seconds after POST)</summary>',
    '',
    perBatch,
    '',
    '</details>',
  ].join('\n');
  return { markdown, apiMedian, directMedian, ratio, met };
}
