// Shared machinery of the benchmarks: a cleanup stack that also runs on failure and on signals, real gateway and
// worker processes from dist/ on a database and Redis prefix of their own, a timed HTTP client, a WebSocket client
// that records when each event arrived, direct nmap runs, statistics and markdown tables.
//
// Loopback only: every address this file hands to nmap or to the API goes through assertLoopback first, and the
// processes it starts get SCAN_SCOPE_ALLOW=127.0.0.0/8 explicitly (the shipped default also allows ::1).
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import Redis from 'ioredis';
import WebSocket from 'ws';
import type { DatabaseKind, TestDatabaseParams } from '../test/support/database';
import { AppProcess, ENTRY, startProcess } from '../test/support/processes';

// ---------------------------------------------------------------------------------------------------------------
// Time

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with the events' `ts` (Date.now based). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` unless `promise` settles first; the timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------------------------
// Cleanup: last registered, first run; runs once on success, failure, SIGINT/SIGTERM or the watchdog.

const cleanups: Array<{ what: string; fn: () => Promise<unknown> | unknown }> = [];

export function onCleanup(what: string, fn: () => Promise<unknown> | unknown): () => Promise<void> {
  const entry = { what, fn };
  cleanups.push(entry);
  // Running it early (the normal path) removes it from the stack.
  return async () => {
    const index = cleanups.indexOf(entry);
    if (index < 0) return;
    cleanups.splice(index, 1);
    await runOne(entry);
  };
}

async function runOne(entry: { what: string; fn: () => Promise<unknown> | unknown }): Promise<void> {
  try {
    await withTimeout(Promise.resolve().then(entry.fn), 30_000, `cleanup "${entry.what}"`);
  } catch (error) {
    console.error(`cleanup "${entry.what}" failed: ${(error as Error).message}`);
  }
}

export async function runAllCleanups(): Promise<void> {
  while (cleanups.length > 0) await runOne(cleanups.pop()!);
}

/** Signals and an overall deadline end the run through the cleanups, never leaving processes or keys behind. */
export function installExitHandlers(deadlineMs: number): void {
  let exiting = false;
  const bail = (why: string) => {
    if (exiting) return;
    exiting = true;
    console.error(`\n${why}: cleaning up`);
    void runAllCleanups().finally(() => process.exit(1));
  };
  process.once('SIGINT', () => bail('SIGINT'));
  process.once('SIGTERM', () => bail('SIGTERM'));
  process.on('unhandledRejection', (error) =>
    bail(`unhandled rejection: ${(error as Error)?.stack ?? error}`),
  );
  setTimeout(
    () => bail(`the benchmark run exceeded its deadline of ${Math.round(deadlineMs / 1000)} s`),
    deadlineMs,
  ).unref();
}

// ---------------------------------------------------------------------------------------------------------------
// Loopback guard

/** Throws unless the target (address or CIDR) lies wholly inside 127.0.0.0/8, or is ::1. */
export function assertLoopback(target: string): string {
  if (target === '::1' || target === '::1/128') return target;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(target);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m?.[5] === undefined ? 32 : Number(m[5]);
  if (!m || octets.some((o) => o > 255) || prefix > 32 || prefix < 8 || octets[0] !== 127) {
    throw new Error(`refusing to scan ${JSON.stringify(target)}: benchmarks scan 127.0.0.0/8 and ::1 only`);
  }
  return target;
}

// ---------------------------------------------------------------------------------------------------------------
// Processes

const ROOT = join(__dirname, '..');

/**
 * The benchmarks run a private copy of dist/ (taken once per run), so that a `npm run build` started meanwhile
 * (it deletes dist/ first) cannot pull the files from under running processes. The copy lives in a temp
 * directory; NODE_PATH points its bare imports back at this repository's node_modules.
 */
type BenchApp = 'gateway' | 'worker' | 'delta';
let snapshot: Promise<Record<BenchApp, string>> | undefined;
/** The build to run: this repository's dist/ unless setDistRoot chose another (e.g. a clean export of HEAD). */
let distRoot = join(ROOT, 'dist');

export function setDistRoot(dir: string): void {
  distRoot = dir;
  snapshot = undefined;
}

/** The build the benchmarks run (the delta-diff child loads the parser and the diff from it). */
export function currentDistRoot(): string {
  return distRoot;
}

export function describeDist(): string {
  return distRoot === join(ROOT, 'dist') ? 'dist/ of this repository' : distRoot;
}

function builtApps(): Promise<Record<BenchApp, string>> {
  // Entry points relative to dist/, e.g. apps/gateway/apps/gateway/src/main.js
  const entryIn = (root: string, app: BenchApp) => join(root, relative(join(ROOT, 'dist'), ENTRY[app]));
  snapshot ??= (async () => {
    const deadline = Date.now() + 180_000;
    // A build in progress: wait (bounded) until both entry points exist again.
    while (!existsSync(entryIn(distRoot, 'gateway')) || !existsSync(entryIn(distRoot, 'worker'))) {
      if (Date.now() > deadline) {
        throw new Error(`${entryIn(distRoot, 'gateway')} or its worker is missing: run \`npm run build\``);
      }
      await sleep(2000);
    }
    await sleep(1000);
    const dir = await mkdtemp(join(tmpdir(), 'nsobench-dist-'));
    onCleanup('dist snapshot', () => {
      snapshot = undefined;
      return rm(dir, { recursive: true, force: true });
    });
    for (const app of ['gateway', 'worker', 'delta']) {
      await cp(join(distRoot, 'apps', app), join(dir, 'apps', app), { recursive: true });
    }
    if (!existsSync(entryIn(dir, 'gateway')) || !existsSync(entryIn(dir, 'worker'))) {
      throw new Error('dist/ changed while it was copied; run again');
    }
    return {
      gateway: entryIn(dir, 'gateway'),
      worker: entryIn(dir, 'worker'),
      delta: entryIn(dir, 'delta'),
    };
  })();
  return snapshot;
}

/** A gateway, worker or delta process from the dist/ snapshot (cleaned up with the rest only when passed to a BenchSystem). */
export async function startApp(
  kind: BenchApp,
  env: Record<string, string | undefined>,
  nodeArgs: string[] = [],
): Promise<AppProcess> {
  const entry = (await builtApps())[kind];
  return startProcess(kind, { NODE_PATH: join(ROOT, 'node_modules'), ...env }, { entry, nodeArgs });
}

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface BenchSystemOptions {
  workers: number;
  /** Gateway processes on the same database and Redis prefix (default 1). */
  gateways?: number;
  workerConcurrency: number;
  database: DatabaseKind;
  logLevel?: string;
  /** Extra environment for every process (e.g. NODE_OPTIONS for instrumentation). */
  env?: Record<string, string>;
  /** Extra node arguments for every process (e.g. --cpu-prof, which NODE_OPTIONS does not accept). */
  nodeArgs?: string[];
  /** Also start the delta service (the delta benchmarks). */
  delta?: boolean;
}

export interface BenchSystem {
  /** The first gateway's base URL (`http://127.0.0.1:<port>`). */
  url: string;
  /** Every gateway's base URL, the first one first. */
  urls: string[];
  /** Headers that authenticate as the gateway's admin (an API token), or {} on a gateway without auth. */
  auth: Record<string, string>;
  prefix: string;
  gateway: AppProcess;
  gateways: AppProcess[];
  workers: AppProcess[];
  /** The delta service, when asked for. */
  delta?: AppProcess;
  env: Record<string, string>;
  database: TestDatabaseParams;
  close(): Promise<void>;
}

/** Gateway and workers as real processes (node dist/…/main.js), on a fresh database and a fresh Redis prefix. */
export async function startBenchSystem(options: BenchSystemOptions): Promise<BenchSystem> {
  const prefix = `nsobench-${randomBytes(4).toString('hex')}`;
  const removeKeys = onCleanup(`Redis keys ${prefix}*`, () => deleteRedisPrefix(prefix));
  // Loaded lazily: it brings MikroORM, which only the PostgreSQL case needs to create and drop a schema.
  const { testDatabaseParams } = await import('../test/support/database');
  const database = await testDatabaseParams(options.database);
  const dropDatabase = onCleanup(`${options.database} database`, () => database.cleanup());
  const adminPassword = `Bench-${randomBytes(9).toString('base64url')}-9a!`;
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    REDIS_URL,
    REDIS_PREFIX: prefix,
    DATABASE_URL: database.databaseUrl,
    ...(database.schema ? { DATABASE_SCHEMA: database.schema } : {}),
    SCAN_SCOPE_ALLOW: '127.0.0.0/8',
    LOG_LEVEL: options.logLevel ?? 'log',
    ...options.env,
  };
  const started: AppProcess[] = [];
  const stopAll = onCleanup(`processes of ${prefix}`, () => stopProcesses(started));
  try {
    // One after the other: the first migrates the database and creates the admin, the others find both done.
    const gateways: AppProcess[] = [];
    const urls: string[] = [];
    for (let i = 0; i < (options.gateways ?? 1); i++) {
      const gateway = await startApp(
        'gateway',
        {
          ...env,
          HOST: '127.0.0.1',
          PORT: '0',
          ADMIN_USERNAME: 'admin',
          ADMIN_PASSWORD: adminPassword,
        },
        options.nodeArgs,
      );
      started.push(gateway);
      gateways.push(gateway);
      const [, listening] = await gateway.waitForOutput(/API listening on (http:\/\/[^\s/]+)\/api/, 60_000);
      urls.push(listening.replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1'));
    }
    const [gateway] = gateways;
    const [url] = urls;
    const auth = await apiTokenHeaders(url, adminPassword);
    const workers: AppProcess[] = [];
    for (let i = 1; i <= options.workers; i++) {
      const worker = await startApp(
        'worker',
        {
          ...env,
          WORKER_ID: `${prefix}-w${i}`,
          WORKER_CONCURRENCY: String(options.workerConcurrency),
        },
        options.nodeArgs,
      );
      started.push(worker);
      workers.push(worker);
    }
    await Promise.all(workers.map((w) => w.waitForOutput(/worker \S+ ready/, 60_000)));
    let delta: AppProcess | undefined;
    if (options.delta) {
      delta = await startApp('delta', { ...env, WORKER_ID: `${prefix}-delta` }, options.nodeArgs);
      started.push(delta);
      await delta.waitForOutput(/delta service ready/, 60_000);
    }
    return {
      url,
      urls,
      auth,
      prefix,
      gateway,
      gateways,
      workers,
      delta,
      env,
      database,
      close: async () => {
        await stopAll();
        await dropDatabase();
        await removeKeys();
      },
    };
  } catch (error) {
    await stopAll();
    await dropDatabase();
    await removeKeys();
    throw error;
  }
}

/** Logs in as the admin (session cookie) and makes an API token; {} when the gateway has no /auth/login. */
async function apiTokenHeaders(url: string, password: string): Promise<Record<string, string>> {
  const login = await postJson(url, '/auth/login', { username: 'admin', password });
  if (login.status === 404) return {};
  const cookie = /nso_session=[^;]+/.exec(String(login.headers['set-cookie'] ?? ''))?.[0];
  if (login.status !== 200 || !cookie)
    throw new Error(`login answered ${login.status}: ${JSON.stringify(login.body)}`);
  const created = await postJson(url, '/api/tokens', { name: 'benchmarks' }, { cookie });
  if (created.status !== 201 || typeof created.body?.token !== 'string') {
    throw new Error(`POST /api/tokens answered ${created.status}: ${JSON.stringify(created.body)}`);
  }
  return { authorization: `Bearer ${created.body.token}` };
}

/** SIGTERM, then SIGKILL after a grace period; nmap processes the workers started (own process groups) too. */
async function stopProcesses(processes: AppProcess[]): Promise<void> {
  const pids = processes.map((p) => p.child.pid).filter((pid): pid is number => pid !== undefined);
  const descendants = descendantsOf(pids);
  await Promise.all(
    processes.map(async (p) => {
      const exited = p.stop('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }),
  );
  for (const pid of [...descendants, ...descendantsOf(pids)]) killQuietly(pid);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Every live process below these pids (read from /proc), so nothing a worker started outlives the benchmark. */
export function descendantsOf(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // ended while we looked
    }
  }
  const out: number[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

export async function deleteRedisPrefix(prefix: string): Promise<number> {
  if (!/^nsobench-[0-9a-f]{8}$/.test(prefix)) throw new Error(`not a benchmark prefix: ${prefix}`);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CPU accounting: the machine is shared, so every benchmark says how busy the CPUs were and with what.

const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

/** CPU time of one process in ms: its own, and that of its reaped children (nmap runs of a worker). */
export function cpuTimesOf(pid: number | 'self'): { selfMs: number; childrenMs: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    // fields 14-17 of stat (utime, stime, cutime, cstime) are 11-14 after the state field
    return { selfMs: (f[11] + f[12]) * TICK_MS, childrenMs: (f[13] + f[14]) * TICK_MS };
  } catch {
    return { selfMs: NaN, childrenMs: NaN };
  }
}

/**
 * Busy and total CPU time of the whole machine so far, in ms summed over all cores. Softirq time is apart: on
 * loopback it is mostly the kernel's side of nmap's connections, and is charged to no process.
 */
export function machineCpu(): { busyMs: number; softirqMs: number; totalMs: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  const idle = v[3] + v[4];
  const total = v.reduce((a, b) => a + b, 0);
  return { busyMs: (total - idle) * TICK_MS, softirqMs: v[6] * TICK_MS, totalMs: total * TICK_MS };
}

/**
 * How busy the machine was over a window, and how much of that was ours: this process and every child it reaped
 * in the window (direct nmap runs, and the gateway and worker processes, whose CPU time includes their own nmap
 * runs, once they have been stopped — so end() belongs after the benchmark closed its processes).
 */
export class CpuWindow {
  private readonly machine = machineCpu();
  private readonly self = sum(cpuTimesOf('self'));

  end(): { busyPct: number; oursPct: number; softirqPct: number; othersPct: number } {
    const m = machineCpu();
    const total = m.totalMs - this.machine.totalMs;
    const busy = m.busyMs - this.machine.busyMs;
    const softirq = m.softirqMs - this.machine.softirqMs;
    const ours = sum(cpuTimesOf('self')) - this.self;
    return {
      busyPct: (100 * busy) / total,
      oursPct: (100 * ours) / total,
      softirqPct: (100 * softirq) / total,
      othersPct: (100 * Math.max(0, busy - softirq - ours)) / total,
    };
  }
}

const sum = (t: { selfMs: number; childrenMs: number }) => t.selfMs + t.childrenMs;

/** Waits (at most maxWaitMs) until the machine was less than `busyPct` busy over a 3-second window. */
export async function waitForQuietMachine(
  maxWaitMs: number,
  busyPct = 30,
): Promise<{ waitedMs: number; lastBusyPct: number }> {
  const started = Date.now();
  let last = NaN;
  do {
    const before = machineCpu();
    await sleep(3000);
    const after = machineCpu();
    last = (100 * (after.busyMs - before.busyMs)) / (after.totalMs - before.totalMs);
    if (last < busyPct) break;
  } while (Date.now() - started < maxWaitMs);
  return { waitedMs: Date.now() - started, lastBusyPct: last };
}

/** VmRSS and VmHWM of a process in MiB, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

const agent = new Agent({ keepAlive: true, maxSockets: 4 });
onCleanup('HTTP agent', () => agent.destroy());

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  sentAt: number;
  ms: number;
}

export function postJson(
  baseUrl: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<HttpResult> {
  return requestJson('POST', baseUrl, path, body, headers, timeoutMs);
}

/** A timed GET on the keep-alive agent, like postJson (getJson is an untimed fetch). */
export function getTimed(
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<HttpResult> {
  return requestJson('GET', baseUrl, path, undefined, headers, timeoutMs);
}

function requestJson(
  method: 'GET' | 'POST',
  baseUrl: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<HttpResult> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const sentAt = nowMs();
  return withTimeout(
    new Promise<HttpResult>((resolve, reject) => {
      const req = httpRequest(
        `${baseUrl}${path}`,
        {
          method,
          agent,
          headers: {
            ...headers,
            ...(method === 'POST'
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const ms = nowMs() - sentAt;
            const text = Buffer.concat(chunks).toString();
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, sentAt, ms });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    }),
    timeoutMs,
    `${method} ${path}`,
  );
}

export async function getJson(
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<any> {
  const res = await withTimeout(fetch(`${baseUrl}${path}`, { headers }), 30_000, `GET ${path}`);
  return res.json();
}

// ---------------------------------------------------------------------------------------------------------------
// WebSocket

export interface TimedEvent {
  /** When this client received it (wall clock, ms). */
  recvAt: number;
  msg: Record<string, any>;
}

export interface TimedSocket {
  openedAt: number;
  events: TimedEvent[];
  waitFor(predicate: (m: Record<string, any>) => boolean, timeoutMs: number): Promise<TimedEvent>;
  close(): void;
}

/**
 * `ws://…/ws/scans/:id`, recording each message with its arrival time. With `since`, the gateway first replays
 * the scan's events after that seq (a scan's seqs go on across its runs), so events of a run that began before the
 * socket opened are not missed.
 */
export async function openTimedSocket(
  baseUrl: string,
  scanId: number,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
  since?: number,
): Promise<TimedSocket> {
  const query = since === undefined ? '' : `?since=${since}`;
  const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws/scans/${scanId}${query}`, { headers });
  const events: TimedEvent[] = [];
  const listeners = new Set<() => void>();
  socket.on('message', (data) => {
    events.push({ recvAt: nowMs(), msg: JSON.parse(data.toString()) });
    for (const l of listeners) l();
  });
  socket.on('close', () => {
    for (const l of listeners) l();
  });
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      }),
      timeoutMs,
      'WebSocket open',
    );
  } catch (error) {
    socket.terminate();
    throw error;
  }
  const openedAt = nowMs();
  socket.on('error', () => undefined);
  const waitFor = (predicate: (m: Record<string, any>) => boolean, ms: number) =>
    new Promise<TimedEvent>((resolve, reject) => {
      const finish = (fn: () => void) => {
        listeners.delete(check);
        clearTimeout(timer);
        fn();
      };
      const check = () => {
        const found = events.find((e) => predicate(e.msg));
        if (found) finish(() => resolve(found));
        else if (socket.readyState === WebSocket.CLOSED) {
          finish(() => reject(new Error(`socket closed; got ${events.map((e) => e.msg.event).join(',')}`)));
        }
      };
      const timer = setTimeout(
        () =>
          finish(() => reject(new Error(`timed out after ${ms} ms; got ${events.map((e) => e.msg.event)}`))),
        ms,
      );
      listeners.add(check);
      check();
    });
  return { openedAt, events, waitFor, close: () => socket.terminate() };
}

export interface CompletedScan {
  started: HttpResult;
  /** Closed already; its events stay readable. */
  socket: TimedSocket;
  /** The `scan_complete` event. */
  done: TimedEvent;
}

/**
 * `POST /api/scans/start` with `body`, then the scan's WebSocket (opened right after the 200) until its terminal
 * event. Throws unless the start answered 200 and the scan completed within `timeoutMs`.
 */
export async function runScanToCompletion(
  system: BenchSystem,
  body: Record<string, unknown>,
  timeoutMs: number,
): Promise<CompletedScan> {
  const started = await postJson(system.url, '/api/scans/start', body, system.auth);
  if (started.status !== 200)
    throw new Error(`scans/start answered ${started.status}: ${JSON.stringify(started.body)}`);
  const socket = await openTimedSocket(system.url, started.body.scan_id, system.auth);
  try {
    const done = await socket.waitFor(
      (m) => ['scan_complete', 'scan_failed', 'scan_stopped'].includes(m.event),
      timeoutMs,
    );
    if (done.msg.event !== 'scan_complete') throw new Error(`scan ended with ${done.msg.event}`);
    return { started, socket, done };
  } finally {
    socket.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Direct nmap

export interface DirectRun {
  ms: number;
  exitCode: number | null;
  stdout: string;
}

const liveNmap = new Set<ChildProcess>();
onCleanup('direct nmap processes', () => {
  for (const child of liveNmap) child.kill('SIGKILL');
});

/** Runs nmap with these arguments (the last one, the target, must be loopback) and waits for it to exit. */
export function runNmapDirect(args: string[], timeoutMs: number): Promise<DirectRun> {
  assertLoopback(args[args.length - 1]);
  const nmap = process.env.NMAP_PATH ?? 'nmap';
  return new Promise<DirectRun>((resolve, reject) => {
    const startedAt = nowMs();
    const child = spawn(nmap, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    liveNmap.add(child);
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.resume();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`direct nmap ${args.join(' ')} took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      liveNmap.delete(child);
      reject(error);
    });
    child.once('exit', (code) => {
      const ms = nowMs() - startedAt;
      clearTimeout(timer);
      liveNmap.delete(child);
      resolve({ ms, exitCode: code, stdout });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics and tables

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export const median = (values: number[]) => quantile(values, 0.5);
export const p90 = (values: number[]) => quantile(values, 0.9);
export const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

export function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function markdownTable(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Machine description

export function machineDescription(): Record<string, string> {
  const safe = (fn: () => string) => {
    try {
      return fn().trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: safe(() => readFileSync('/proc/sys/kernel/osrelease', 'utf8')),
    node: process.version,
    nmap: safe(
      () =>
        execFileSync(process.env.NMAP_PATH ?? 'nmap', ['--version'])
          .toString()
          .split('\n')[0],
    ),
    load: `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at start`,
    redis: safe(() => {
      const info = execFileSync('redis-cli', ['-u', REDIS_URL, 'info', 'server']).toString();
      return `redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}`;
    }),
    commit: safe(() => {
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: `${__dirname}/..` })
        .toString()
        .trim();
      const dirty = execFileSync('git', ['status', '--porcelain', 'apps', 'libs'], { cwd: `${__dirname}/..` })
        .toString()
        .trim();
      return dirty ? `${head} (+ uncommitted changes in apps/ or libs/)` : head;
    }),
  };
}
