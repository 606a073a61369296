// Benchmark `wide` (issue 20 point 1): wide, thin scans, the most common job of all. `-sT -Pn -n --max-retries 0
// --min-rate 5000 -p P` over a loopback /16 (three listeners open on port P) through the API, on `npm start`'s
// worker setup (one worker process, WORKER_CONCURRENCY 2) and on two workers (WORKER_CONCURRENCY 1 each),
// against the same nmap run directly and against the /16 split into the same chunks as parallel direct nmaps
// (the limit the orchestration can reach); then the middle ground, 500 ports per host over a /20. Interleaved,
// order rotating, several runs; one table per scan. The API runs are timed from the POST to the run's
// finished_at (polled, no WebSocket: a /16 with -Pn is 65,536 `line` events, more than a test client reads).
import type { DatabaseKind } from '../test/support/database';
import { Listener, listenOn } from '../test/support/listeners';
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import {
  assertLoopback,
  BenchSystem,
  cpuTimesOf,
  fmt,
  machineCpu,
  getJson,
  markdownTable,
  median,
  nowMs,
  onCleanup,
  postJson,
  runNmapDirect,
  sleep,
  startBenchSystem,
} from './support';
import { splitCidr } from './scale';

export interface WideOptions {
  runs: number;
  /** Runs of the /20 × 500 ports scan (each is minutes on a loaded 2-core machine). 0 leaves it out. */
  denseRuns: number;
  database: DatabaseKind;
}
export const WIDE_DEFAULTS: Omit<WideOptions, 'database'> = { runs: 3, denseRuns: 1 };
/** Issue 20's target for the /16 with one port: API / direct at most this (medians). */
export const WIDE_TARGET_RATIO = 1.3;

const FLAGS = ['-sT', '-Pn', '-n', '--max-retries', '0', '--min-rate', '5000'];
/** Both cores busy: 2 batches at a time on either worker setup. */
const CONCURRENCY = 2;
const RUN_TIMEOUT_MS = 900_000;
/** The end is the run's finished_at, so polling often gains nothing (and a run of minutes is many requests). */
const POLL_MS = 500;
/** Polls and executes of several long runs go past the per-user rate limit (1,000 an hour by default). */
export const NO_RATE_LIMIT = { RATE_LIMIT_ENABLED: 'false' };

interface WideScan {
  name: string;
  target: string;
  ports: string;
  chunkSize: number;
  hosts: number;
  /** Open ports every path must find (the listeners). */
  open: number;
}

interface PathRuns {
  name: string;
  walls: number[];
  /** CPU time of each run, ms, by whose it was (CpuUse). */
  cpu: CpuUse[];
}

/**
 * CPU time (ms) one run of a path took, by process: nmap (the worker's children, or the direct runs), the workers'
 * own, the gateway's, the Redis server's, and the whole machine's busy time (every process, and the kernel's
 * softirq work for loopback traffic, which no process is charged for).
 */
interface CpuUse {
  nmap: number;
  workers: number;
  gateway: number;
  redis: number;
  machine: number;
}

/** The Redis server's pid (the one the benchmarks use, on 127.0.0.1:6379), or undefined when none is seen. */
function redisServerPid(): number | undefined {
  try {
    const pids = execFileSync('pgrep', ['-x', 'redis-server'], { encoding: 'utf8' }).trim().split('\n');
    return pids.length === 1 ? Number(pids[0]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Measures the CPU time of `run` by process. `system`: the API path's gateway and workers (their nmap runs are
 * their children, counted once reaped: a batch's nmap is reaped when it ends); none: a direct path, whose nmap
 * runs are this process's children. `redis`: the Redis server's pid (redisServerPid), if known.
 */
async function withCpu(
  system: BenchSystem | undefined,
  redis: number | undefined,
  run: () => Promise<void>,
): Promise<CpuUse> {
  const pids = system ? system.workers.map((w) => w.child.pid!) : [];
  const snapshot = () => ({
    workers: pids.map((pid) => cpuTimesOf(pid)),
    gateway: system ? cpuTimesOf(system.gateway.child.pid!).selfMs : 0,
    redis: redis ? cpuTimesOf(redis).selfMs : 0,
    self: cpuTimesOf('self').childrenMs,
    machine: machineCpu().busyMs,
  });
  const before = snapshot();
  await run();
  const after = snapshot();
  const delta = (pick: (t: { selfMs: number; childrenMs: number }) => number) =>
    after.workers.reduce((n, t, i) => n + pick(t) - pick(before.workers[i]), 0);
  return {
    nmap: system ? delta((t) => t.childrenMs) : after.self - before.self,
    workers: delta((t) => t.selfMs),
    gateway: after.gateway - before.gateway,
    redis: after.redis - before.redis,
    machine: after.machine - before.machine,
  };
}

/**
 * Runs both scans (the /20 only when `denseRuns` > 0) and reports them; `met` is the /16 target
 * (API on one worker / direct ≤ WIDE_TARGET_RATIO).
 */
export async function runWide(
  options: WideOptions,
): Promise<{ markdown: string; met: boolean; summary: string }> {
  // The listeners' port: a free one on the first address; the three listeners sit in different /20s and chunks.
  const probe = await listenOn(assertLoopback('127.1.0.1'));
  const port = probe.port;
  await probe.close();
  const open = ['127.1.0.10', '127.1.128.77', '127.1.255.200'].map(assertLoopback);
  const listeners: Listener[] = await Promise.all(open.map((a) => listenOn(a, port)));
  const closeListeners = onCleanup('wide listeners', () => Promise.all(listeners.map((l) => l.close())));
  const one = await startBenchSystem({
    workers: 1,
    workerConcurrency: 2,
    database: options.database,
    env: NO_RATE_LIMIT,
  });
  let two: BenchSystem | undefined;
  try {
    two = await startBenchSystem({
      workers: 2,
      workerConcurrency: 1,
      database: options.database,
      env: NO_RATE_LIMIT,
    });
    const scans: Array<[WideScan, number]> = [
      [
        {
          name: '/16 × 1 port',
          target: assertLoopback('127.1.0.0/16'),
          ports: String(port),
          chunkSize: 4096,
          hosts: 65_536,
          open: 3,
        },
        options.runs,
      ],
      [
        {
          name: '/20 × 500 ports',
          target: assertLoopback('127.1.0.0/20'),
          ports: `${port - 499}-${port}`,
          chunkSize: 256,
          hosts: 4096,
          open: 1,
        },
        options.denseRuns,
      ],
    ];
    const sections: string[] = [];
    let ratio16 = NaN;
    for (const [scan, runs] of scans) {
      if (runs === 0) continue;
      const result = await measure(scan, runs, one, two);
      if (scan.hosts === 65_536) ratio16 = result.ratio;
      sections.push(result.markdown);
    }
    const met = ratio16 <= WIDE_TARGET_RATIO;
    const markdown = [
      `### wide: sparse and middle-ground scans, API against nmap alone (${options.database})`,
      '',
      `Flags \`${FLAGS.join(' ')}\`; listeners on port ${port} at ${open.join(', ')}. API runs: a scan definition (\`POST /api/scans\`) executed (\`GET /api/scans/{id}/execute\`) ` +
        `with concurrency ${CONCURRENCY}, timed from the POST to the run's \`finished_at\`; "1 worker" is \`npm start\`'s ` +
        `setup (one worker process, WORKER_CONCURRENCY 2), "2 workers" two processes of WORKER_CONCURRENCY 1. ` +
        `"direct split" runs the API's chunks as direct nmaps, ${CONCURRENCY} at a time: what parallel nmaps alone give. ` +
        `Paths interleaved, order rotating between runs.`,
      '',
      ...sections,
      '',
      `Target (issue 20): API / direct ≤ ${WIDE_TARGET_RATIO} for the /16 with one port → **${met ? 'met' : 'MISSED'}** ` +
        `(${fmt(ratio16, 2)} with 1 worker).`,
    ].join('\n');
    return {
      markdown,
      met,
      summary: `/16 API (1 worker) / direct ${fmt(ratio16, 2)}, target ≤ ${WIDE_TARGET_RATIO}`,
    };
  } finally {
    await two?.close();
    await one.close();
    await closeListeners();
  }
}

async function measure(
  scan: WideScan,
  runs: number,
  one: BenchSystem,
  two: BenchSystem,
): Promise<{ markdown: string; ratio: number }> {
  const flags = [...FLAGS, '-p', scan.ports];
  const chunks = splitCidr(scan.target, scan.chunkSize);
  if (!chunks) throw new Error(`${scan.target} does not split into chunks of ${scan.chunkSize}`);
  const paths: PathRuns[] = [
    { name: `API, 1 worker (WORKER_CONCURRENCY 2), chunk_size ${scan.chunkSize}`, walls: [], cpu: [] },
    { name: `API, 2 workers (WORKER_CONCURRENCY 1), chunk_size ${scan.chunkSize}`, walls: [], cpu: [] },
    { name: `direct: \`nmap ${flags.join(' ')} ${scan.target}\``, walls: [], cpu: [] },
    {
      name: `direct split: ${chunks.length} nmaps (${chunks[0]} …), ${CONCURRENCY} at a time`,
      walls: [],
      cpu: [],
    },
  ];
  const onOne = await defineScan(one, scan);
  const onTwo = await defineScan(two, scan);
  // Looked up once (a pgrep): the same server serves every run.
  const redis = redisServerPid();
  const steps = [
    async () =>
      paths[0].cpu.push(
        await withCpu(one, redis, async () => void paths[0].walls.push(await runApi(one, onOne, scan))),
      ),
    async () =>
      paths[1].cpu.push(
        await withCpu(two, redis, async () => void paths[1].walls.push(await runApi(two, onTwo, scan))),
      ),
    async () =>
      paths[2].cpu.push(
        await withCpu(undefined, redis, async () => {
          const run = await runNmapDirect([...flags, scan.target], RUN_TIMEOUT_MS);
          const up = Number(/\((\d+) hosts? up\)/.exec(run.stdout)?.[1] ?? -1);
          const found = (run.stdout.match(/^\d+\/tcp\s+open\b/gm) ?? []).length;
          if (run.exitCode !== 0 || up !== scan.hosts || found < scan.open)
            throw new Error(`direct nmap: exit ${run.exitCode}, ${up} hosts up, ${found} open ports`);
          paths[2].walls.push(run.ms);
        }),
      ),
    async () =>
      paths[3].cpu.push(
        await withCpu(undefined, redis, async () => {
          const startedAt = nowMs();
          const queue = [...chunks];
          const slot = async () => {
            for (let chunk = queue.shift(); chunk; chunk = queue.shift()) {
              const run = await runNmapDirect([...flags, chunk], RUN_TIMEOUT_MS);
              if (run.exitCode !== 0) throw new Error(`direct nmap of ${chunk}: exit ${run.exitCode}`);
            }
          };
          await Promise.all(Array.from({ length: CONCURRENCY }, slot));
          paths[3].walls.push(nowMs() - startedAt);
        }),
      ),
  ];
  process.stderr.write(`wide ${scan.name}: ${runs} runs of each path, interleaved`);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]();
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  const s = (ms: number) => fmt(ms / 1000, 2);
  const direct = median(paths[2].walls);
  const rows = paths.map((p) => [
    p.name,
    p.walls.map(s).join(', '),
    s(median(p.walls)),
    fmt(median(p.walls) / direct, 2),
  ]);
  const ratio = median(paths[0].walls) / direct;
  const markdown = [
    `#### ${scan.name}: ${scan.target}, ports ${scan.ports} (${scan.hosts} hosts, ${chunks.length} batches)`,
    '',
    markdownTable(['path', 'runs (s)', 'median s', '÷ direct'], rows),
    '',
    perHost(median(paths[0].walls) - direct, scan.hosts),
    '',
    cpuTable(paths, scan.hosts),
  ].join('\n');
  return { markdown, ratio };
}

/**
 * Where each path's CPU went (medians over its runs, seconds; µs per host for what is not nmap), and the least wall
 * time the machine's cores allow for that much work (the machine's busy time ÷ its cores): a path whose wall time
 * is near that floor is bound by CPU, and only less work makes it faster.
 */
function cpuTable(paths: PathRuns[], hosts: number): string {
  const cores = availableParallelism();
  const s = (ms: number) => fmt(ms / 1000, 2);
  const rows = paths.map((p) => {
    const m = (pick: (c: CpuUse) => number) => median(p.cpu.map(pick));
    const pipeline = m((c) => c.workers + c.gateway + c.redis);
    return [
      p.name.replace(/`.*`/, 'one nmap'),
      s(m((c) => c.nmap)),
      s(m((c) => c.workers)),
      s(m((c) => c.gateway)),
      s(m((c) => c.redis)),
      pipeline > 0 ? fmt((pipeline * 1000) / hosts, 1) : '—',
      s(m((c) => c.machine)),
      s(m((c) => c.machine) / cores),
      s(median(p.walls)),
    ];
  });
  return [
    `CPU time by process, medians of the runs, s (10 ms ticks; nmap: the workers' children, or the direct runs; ` +
      `machine: every process and the kernel's softirq work, over the run's wall time), and the floor ${cores} cores ` +
      `allow (machine ÷ ${cores}):`,
    '',
    markdownTable(
      [
        'path',
        'nmap',
        'workers',
        'gateway',
        'Redis',
        'µs a host (workers + gateway + Redis)',
        'machine',
        `floor (÷ ${cores})`,
        'wall',
      ],
      rows,
    ),
  ].join('\n');
}

/** The API's time over one direct nmap per host, or why there is none (parallel batches beat one nmap). */
function perHost(addedMs: number, hosts: number): string {
  if (addedMs <= 0)
    return 'Per host over nmap alone (1 worker): none, the API (parallel batches) beat one direct nmap.';
  return `Per host over nmap alone (1 worker, medians): ${fmt((addedMs * 1000) / hosts, 0)} µs.`;
}

/** A scan definition of `scan` on `system` (created once; each run is an execute of it). */
async function defineScan(system: BenchSystem, scan: WideScan): Promise<number> {
  const created = await postJson(
    system.url,
    '/api/scans',
    {
      name: `wide ${scan.name}`,
      target: scan.target,
      ports: scan.ports,
      scan_arguments: FLAGS.join(' '),
      chunk_size: scan.chunkSize,
      concurrency: CONCURRENCY,
    },
    system.auth,
  );
  if (created.status !== 201)
    throw new Error(`POST /api/scans answered ${created.status}: ${JSON.stringify(created.body)}`);
  return created.body.scan.id;
}

/** One API run to completion: ms from the execute to the run's finished_at; checks its hosts and open ports. */
async function runApi(system: BenchSystem, scanId: number, scan: WideScan): Promise<number> {
  const sentAt = nowMs();
  const executed = await fetch(`${system.url}/api/scans/${scanId}/execute`, { headers: system.auth });
  const body = (await executed.json()) as { result_id?: number };
  if (executed.status !== 200)
    throw new Error(`execute answered ${executed.status}: ${JSON.stringify(body)}`);
  const resultId = body.result_id!;
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const run = await getJson(system.url, `/api/results/${resultId}?per_page=1`, system.auth);
    if (!run.result) throw new Error(`GET /api/results/${resultId}: ${JSON.stringify(run).slice(0, 300)}`);
    const status = run.result.status;
    if (status === 'completed') {
      const { hosts_up: up, total_open_ports: found } = run.summary ?? {};
      if (up !== scan.hosts || found < scan.open)
        throw new Error(`API run ${resultId}: ${up} hosts up, ${found} open ports`);
      return Date.parse(run.result.finished_at) - sentAt;
    }
    if (['failed', 'stopped'].includes(status)) throw new Error(`API run ${resultId} ${status}`);
    if (Date.now() > deadline) throw new Error(`API run ${resultId} not completed in ${RUN_TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}
