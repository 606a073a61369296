// `bench/run.ts profile-wide` (issue 20 point 1): where the per-host cost of a wide, thin scan goes. The `wide`
// benchmark's /16 × 1 port through one worker (npm start's setup), with bench/instrument.js preloaded (spans of
// the batch's steps, every SQL statement and Redis command) and V8 CPU profiles of gateway and worker; the
// worker's CPU time split by what it ran (XML parsing, stdout lines, event publishing, Redis client, SQL,
// garbage collection), per host.
import { readdirSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseKind } from '../test/support/database';
import { listenOn } from '../test/support/listeners';
import { readSpans, Span } from './profile';
import {
  assertLoopback,
  cpuTimesOf,
  fmt,
  getJson,
  markdownTable,
  nowMs,
  onCleanup,
  postJson,
  sleep,
  startBenchSystem,
} from './support';
import { NO_RATE_LIMIT } from './wide';

export interface WideProfileOptions {
  database: DatabaseKind;
  /** Addresses of the scan (a CIDR under 127.1.0.0/16). */
  target: string;
  chunkSize: number;
}
const POLL_MS = 250;
export const WIDE_PROFILE_DEFAULTS: Omit<WideProfileOptions, 'database'> = {
  target: '127.1.0.0/16',
  chunkSize: 4096,
};

const INSTRUMENTATION = 'benchmark instrumentation (bench/instrument.js)';
/** Where a CPU profile's sample goes, by the script it ran in (first match wins). */
const CATEGORIES: Array<[string, RegExp]> = [
  [
    'XML parsing (sax/saxes, xml2js, parser, xml-stream, xml-host)',
    /node_modules\/(sax|saxes|xmlchars|xml2js)\/|libs\/nmap\/src\/(parser|xml-)/,
  ],
  ['stdout lines (runner: split, onLine)', /libs\/nmap\/src\/runner/],
  ['event publishing (libs/events)', /libs\/events\//],
  ['Redis client (ioredis, its parser)', /node_modules\/(ioredis|redis-parser|@ioredis)\//],
  ['BullMQ', /node_modules\/bullmq\//],
  [
    'SQL (knex, MikroORM, better-sqlite3, pg)',
    /node_modules\/(knex|@mikro-orm|better-sqlite3|pg|pg-protocol)\/|libs\/persistence\//,
  ],
  ['run and batch accounting (libs/runs)', /libs\/runs\//],
  ['worker app code (apps/worker)', /apps\/worker\/src\//],
  ['built-ins without a script (JSON, strings, Buffer) and node internals', /^node:|^internal\/|^$/],
  [INSTRUMENTATION, /bench\/instrument\.js/],
];

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string }; children?: number[] }>;
  /** µs of the monotonic clock (process.hrtime's), when sampling began. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A span of the monotonic clock (process.hrtime's), µs: the measured run's, to keep only its samples. */
interface MonotonicWindow {
  fromUs: number;
  toUs: number;
}

/**
 * Each sample of the profile taken within `window`: its node and its CPU time (ms). A sample's time is the profile's
 * start plus the deltas before it; V8 stamps them with the monotonic clock process.hrtime reads.
 */
function* samplesIn(
  profile: CpuProfile,
  window: MonotonicWindow,
): Generator<{ node: CpuProfile['nodes'][number]; ms: number }> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < window.fromUs || at > window.toUs) continue;
    const node = byId.get(profile.samples[i]);
    if (node) yield { node, ms: delta / 1000 };
  }
}

/**
 * A sample's category by its stack: GC, idle and V8's own time by the sample; else the innermost frame that is one
 * of CATEGORIES' libraries or this project's code (so SQLite's native work counts as SQL, a socket write as the
 * Redis client that made it); else by the sampled frame (built-ins, other JavaScript).
 */
function stackCategoryOf(
  node: CpuProfile['nodes'][number],
  parents: Map<number, CpuProfile['nodes'][number]>,
) {
  const own = categoryOf(node.callFrame);
  if (
    own === 'idle' ||
    own === 'garbage collection' ||
    own === 'V8/native (program)' ||
    own === INSTRUMENTATION
  )
    return own;
  for (let frame: CpuProfile['nodes'][number] | undefined = node; frame; frame = parents.get(frame.id)) {
    const category = categoryOf(frame.callFrame);
    // The instrumentation wraps the calls it times: what it wrapped is found further up.
    if (category === INSTRUMENTATION) continue;
    if (category !== 'other JavaScript' && !category.startsWith('built-ins')) return category;
  }
  return own;
}

/** Redis commands sent by the worker during the run, by command: count and per host (pipelined: no times). */
function redisRows(worker: Span[], hosts: number): Array<Array<string | number>> {
  const byName = new Map<string, number>();
  for (const s of worker) if (s.n.startsWith('redis ')) byName.set(s.n, (byName.get(s.n) ?? 0) + 1);
  const total = [...byName.values()].reduce((a, b) => a + b, 0);
  return [
    ['Redis commands from the worker (count; per host)', '', fmt(total / hosts, 2), String(total)],
    ...[...byName]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([name, n]) => [`  ${name}`, '', fmt(n / hosts, 2), String(n)]),
  ];
}

/**
 * The scripts (or, for built-ins, the functions) with the most self time in a category of a profile (samples within
 * `window`, each categorised by its stack: stackCategoryOf).
 */
function topOf(
  profile: CpuProfile,
  category: string,
  window: MonotonicWindow,
  limit = 5,
): Array<[string, number]> {
  const parents = parentsOf(profile);
  const out = new Map<string, number>();
  for (const { node, ms } of samplesIn(profile, window)) {
    if (stackCategoryOf(node, parents) !== category) continue;
    const { url, functionName } = node.callFrame;
    const key = url
      ? url.replace(/^.*?(node_modules\/|apps\/|libs\/|bench\/)/, '$1')
      : functionName || '(anonymous)';
    out.set(key, (out.get(key) ?? 0) + ms);
  }
  return [...out].sort((a, b) => b[1] - a[1]).slice(0, limit);
}

/** Each node's caller. */
function parentsOf(profile: CpuProfile): Map<number, CpuProfile['nodes'][number]> {
  const parents = new Map<number, CpuProfile['nodes'][number]>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node);
  return parents;
}

function categoryOf({ functionName, url }: { functionName: string; url: string }): string {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return 'V8/native (program)';
  return CATEGORIES.find(([, re]) => re.test(url))?.[0] ?? 'other JavaScript';
}

/** Milliseconds of CPU by category (and idle, GC, program) within `window`, from one .cpuprofile. */
function splitProfile(profile: CpuProfile, window: MonotonicWindow): Map<string, number> {
  const parents = parentsOf(profile);
  const out = new Map<string, number>();
  for (const { node, ms } of samplesIn(profile, window)) {
    const category = stackCategoryOf(node, parents);
    out.set(category, (out.get(category) ?? 0) + ms);
  }
  return out;
}

/** Runs the profile (one warm-up run, one measured run) and returns its report. */
export async function runWideProfile(options: WideProfileOptions): Promise<string> {
  const target = assertLoopback(options.target);
  const hosts = 2 ** (32 - Number(target.split('/')[1]));
  const probe = await listenOn(assertLoopback('127.1.0.1'));
  const port = probe.port;
  await probe.close();
  const listeners = await Promise.all(
    ['127.1.0.10', '127.1.0.77', '127.1.0.200'].map((a) => listenOn(assertLoopback(a), port)),
  );
  const closeListeners = onCleanup('profile-wide listeners', () =>
    Promise.all(listeners.map((l) => l.close())),
  );
  const traceDir = await mkdtemp(join(tmpdir(), 'nsobench-trace-'));
  const profDir = await mkdtemp(join(tmpdir(), 'nsobench-cpuprof-'));
  const removeDirs = onCleanup('profile-wide files', async () => {
    // PROFILE_WIDE_KEEP=DIR keeps the CPU profiles (for a closer look, e.g. in Chrome's DevTools).
    const keep = process.env.PROFILE_WIDE_KEEP;
    if (keep) await cp(profDir, keep, { recursive: true });
    await rm(traceDir, { recursive: true, force: true });
    await rm(profDir, { recursive: true, force: true });
  });
  const flags = '-sT -Pn -n --max-retries 0 --min-rate 5000';
  let window = { t0: 0, done: 0 };
  let monotonic: MonotonicWindow = { fromUs: 0, toUs: 0 };
  let cpu = { worker: 0, workerNmap: 0, gateway: 0 };
  try {
    const system = await startBenchSystem({
      workers: 1,
      workerConcurrency: 2,
      database: options.database,
      env: {
        ...NO_RATE_LIMIT,
        NODE_OPTIONS: `--require ${join(__dirname, 'instrument.js')}`,
        BENCH_TRACE_DIR: traceDir,
      },
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    });
    try {
      const define = async (name: string, cidr: string) => {
        const created = await postJson(
          system.url,
          '/api/scans',
          {
            // Benchmarks time the scan and its report, not the rescan of its changes.
            verify_changes: false,
            name,
            target: cidr,
            ports: String(port),
            scan_arguments: flags,
            chunk_size: options.chunkSize,
            concurrency: 2,
          },
          system.auth,
        );
        if (created.status !== 201) throw new Error(`POST /api/scans answered ${created.status}`);
        return created.body.scan.id as number;
      };
      // The warm-up (JIT, connections) on one batch of the same size; then the measured run.
      const scans = [
        await define('warm-up', assertLoopback('127.1.0.0/20')),
        await define('profile wide', target),
      ];
      const worker = system.workers[0].child.pid!;
      const gateway = system.gateway.child.pid!;
      for (let round = 0; round < 2; round++) {
        process.stderr.write(`profile-wide: ${round === 0 ? 'warm-up' : 'measured'} run\n`);
        const before = { w: cpuTimesOf(worker), g: cpuTimesOf(gateway) };
        const t0 = nowMs();
        const t0Us = Number(process.hrtime.bigint() / 1000n);
        const executed = await fetch(`${system.url}/api/scans/${scans[round]}/execute`, {
          headers: system.auth,
        });
        const resultId = ((await executed.json()) as { result_id: number }).result_id;
        for (;;) {
          const run = await getJson(system.url, `/api/results/${resultId}?per_page=1`, system.auth);
          if (!run.result)
            throw new Error(`GET /api/results/${resultId}: ${JSON.stringify(run).slice(0, 300)}`);
          if (run.result.status === 'completed') {
            window = { t0, done: Date.parse(run.result.finished_at) };
            monotonic = { fromUs: t0Us, toUs: t0Us + (window.done - window.t0) * 1000 };
            break;
          }
          if (['failed', 'stopped'].includes(run.result.status)) throw new Error(`run ${run.result.status}`);
          await sleep(POLL_MS);
        }
        const after = { w: cpuTimesOf(worker), g: cpuTimesOf(gateway) };
        cpu = {
          worker: after.w.selfMs - before.w.selfMs,
          workerNmap: after.w.childrenMs - before.w.childrenMs,
          gateway: after.g.selfMs - before.g.selfMs,
        };
      }
      await sleep(1500); // the trace files are flushed every second
    } finally {
      await system.close(); // SIGTERM: the processes write their CPU profiles as they exit
    }
    const spans = (await readSpans(traceDir)).filter((s) => s.s >= window.t0 && s.s <= window.done + 50);
    return report(options, target, hosts, port, window, monotonic, cpu, spans, profDir);
  } finally {
    await removeDirs();
    await closeListeners();
  }
}

function report(
  options: WideProfileOptions,
  target: string,
  hosts: number,
  port: number,
  window: { t0: number; done: number },
  monotonic: MonotonicWindow,
  cpu: { worker: number; workerNmap: number; gateway: number },
  spans: Span[],
  profDir: string,
): string {
  const us = (ms: number) => fmt((ms * 1000) / hosts, 1);
  const worker = spans.filter((s) => s.r === 'worker');
  const sum = (pred: (s: Span) => boolean, list = worker) =>
    list.filter(pred).reduce((a, s) => a + (s.e - s.s), 0);
  const count = (pred: (s: Span) => boolean, list = worker) => list.filter(pred).length;
  const named = (n: string) => (s: Span) => s.n === n;
  const nmapMs = sum(named('process nmap'));
  const rows: Array<Array<string | number>> = [
    ['run: execute → finished_at', fmt(window.done - window.t0), us(window.done - window.t0), ''],
    ['worker CPU (its own, not nmap)', fmt(cpu.worker), us(cpu.worker), ''],
    ['nmap CPU (children of the worker)', fmt(cpu.workerNmap), us(cpu.workerNmap), ''],
    ['gateway CPU', fmt(cpu.gateway), us(cpu.gateway), ''],
    [
      'nmap processes, spawn → exit (sum over batches)',
      fmt(nmapMs),
      us(nmapMs),
      String(count(named('process nmap'))),
    ],
    [
      'parseNmapXml (wall, sum)',
      fmt(sum(named('parseNmapXml'))),
      us(sum(named('parseNmapXml'))),
      String(count(named('parseNmapXml'))),
    ],
    [
      'BatchRepository.storeResult (wall, sum)',
      fmt(sum(named('BatchRepository.storeResult'))),
      us(sum(named('BatchRepository.storeResult'))),
      String(count(named('BatchRepository.storeResult'))),
    ],
    [
      'SQL statements (wall, sum)',
      fmt(sum(named('sql'))),
      us(sum(named('sql'))),
      String(count(named('sql'))),
    ],
    [
      'ScanEventPublisher.publishMany calls (count; they overlap)',
      '',
      '',
      String(count(named('ScanEventPublisher.publishMany'))),
    ],
    ...redisRows(worker, hosts),
  ];
  const profiles = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
  const split = new Map<string, { worker: number; gateway: number }>();
  const tops: string[] = [];
  for (const file of profiles) {
    const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile;
    // Which process: the worker's profile holds its batch code, the gateway's its controllers.
    const text = profile.nodes.map((n) => n.callFrame.url).join('\n');
    const role = /apps\/worker\/src\//.test(text)
      ? 'worker'
      : /apps\/gateway\/src\//.test(text)
        ? 'gateway'
        : undefined;
    if (!role) continue;
    if (role === 'worker') {
      for (const category of [
        'built-ins without a script (JSON, strings, Buffer) and node internals',
        'other JavaScript',
      ]) {
        const top = topOf(profile, category, monotonic).map(([k, ms]) => `${k} ${fmt(ms)}`);
        tops.push(`- worker, ${category}: ${top.join('; ')}`);
      }
    }
    for (const [category, ms] of splitProfile(profile, monotonic)) {
      const entry = split.get(category) ?? { worker: 0, gateway: 0 };
      entry[role] += ms;
      split.set(category, entry);
    }
  }
  const cpuRows = [...split]
    .filter(([category]) => category !== 'idle')
    .sort((a, b) => b[1].worker - a[1].worker)
    .map(([category, ms]) => [category, fmt(ms.worker), fmt(ms.gateway)]);
  return [
    `### profile-wide: per-host cost of \`${flags(port)}\` over ${target} (${options.database}, 1 worker, instrumented)`,
    '',
    `chunk_size ${options.chunkSize}, concurrency 2, one worker process of WORKER_CONCURRENCY 2; one warm-up run, ` +
      `then the measured one (${hosts} hosts). Spans from bench/instrument.js; µs per host = ms × 1000 / ${hosts}.`,
    '',
    markdownTable(['measured run', 'ms', 'µs per host', 'count'], rows),
    '',
    'CPU profiles (node --cpu-prof), the samples of the measured run only, each by the innermost of its frames that is ' +
      "one of these libraries or this project's code (SQLite's native work counts as SQL, a socket write as the client " +
      'that made it), ms:',
    '',
    markdownTable(['category', 'worker ms', 'gateway ms'], cpuRows),
    '',
    'Most self time inside the two widest categories (ms):',
    '',
    ...tops,
  ].join('\n');
}

const flags = (port: number) => `-sT -Pn -n --max-retries 0 --min-rate 5000 -p ${port}`;
