// Benchmark `wide-subscribers` (issue 20 point 3): subscribers never slow the scan. The `wide` benchmark's /16 × 1
// port on `npm start`'s worker setup (one worker process, WORKER_CONCURRENCY 2), run with one WebSocket and one
// SSE subscriber attached and without, interleaved (ABBA), in one command. The subscribers are real clients in a
// child process of their own (bench/wide-subscribers-client.js): each reads every event of the run (about
// 393,000, six `line` events per host), checks that seqs go 1, 2, 3, … and ends at the run's `scan_complete`.
// Every run is a fresh scan definition, so both paths do the same work (an empty event log, seqs from 1).
import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { DatabaseKind } from '../test/support/database';
import { Listener, listenOn } from '../test/support/listeners';
import {
  assertLoopback,
  BenchSystem,
  cpuTimesOf,
  fmt,
  getJson,
  markdownTable,
  median,
  nowMs,
  onCleanup,
  postJson,
  sleep,
  startBenchSystem,
  withTimeout,
} from './support';
import { NO_RATE_LIMIT } from './wide';

export interface WideSubscribersOptions {
  /** Runs of each path (with subscribers, without). */
  runs: number;
  database: DatabaseKind;
  /** Write V8 CPU profiles of the gateway and the worker here (node --cpu-prof). */
  cpuProfDir?: string;
}
export const WIDE_SUBSCRIBERS_DEFAULTS: Omit<WideSubscribersOptions, 'database'> = { runs: 3 };
/** Issue 20 point 3: with subscribers at most 10 % slower than without (medians). */
export const WIDE_SUBSCRIBERS_TARGET = 1.1;

const FLAGS = '-sT -Pn -n --max-retries 0 --min-rate 5000';
const TARGET = '127.1.0.0/16';
const CHUNK_SIZE = 4096;
const CONCURRENCY = 2;
const RUN_TIMEOUT_MS = 900_000;
/** The end is the run's finished_at; a poll reads the run's summary (tens of ms of the gateway's CPU on a /16). */
const POLL_MS = 1000;

/** What one subscriber reported at its terminal event (bench/wide-subscribers-client.js). */
interface SubscriberDone {
  kind: 'websocket' | 'sse';
  events: number;
  lines: number;
  firstSeq: number;
  lastSeq: number;
  outOfOrder: number;
  terminal: string | null;
  terminalAt: number;
  closedBy: string | null;
}

interface Run {
  subscribers: boolean;
  /** execute → the run's finished_at. */
  wallMs: number;
  /** execute → the last subscriber had the terminal event (with subscribers). */
  deliveredMs?: number;
  cpu: { gateway: number; worker: number; nmap: number; client: number };
  done?: SubscriberDone[];
}

/** Runs the benchmark and returns its report; `met` is the 10 % target on the medians. */
export async function runWideSubscribers(
  options: WideSubscribersOptions,
): Promise<{ markdown: string; met: boolean; summary: string }> {
  const probe = await listenOn(assertLoopback('127.1.0.1'));
  const port = probe.port;
  await probe.close();
  const open = ['127.1.0.10', '127.1.128.77', '127.1.255.200'].map(assertLoopback);
  const listeners: Listener[] = await Promise.all(open.map((a) => listenOn(a, port)));
  const closeListeners = onCleanup('wide-subscribers listeners', () =>
    Promise.all(listeners.map((l) => l.close())),
  );
  const system = await startBenchSystem({
    workers: 1,
    workerConcurrency: 2,
    database: options.database,
    env: NO_RATE_LIMIT,
    nodeArgs: options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [],
  });
  try {
    // A warm-up run of each path on a /20 (JIT, connections, the client's code), not reported.
    process.stderr.write('wide-subscribers: warm-up');
    await runOnce(system, port, true, assertLoopback('127.1.0.0/20'));
    await runOnce(system, port, false, assertLoopback('127.1.0.0/20'));
    process.stderr.write(`, ${options.runs} runs of each path`);
    const runs: Run[] = [];
    for (let i = 0; i < options.runs; i++) {
      // ABBA: neither path always goes first.
      const order = i % 2 === 0 ? [true, false] : [false, true];
      for (const subscribers of order) runs.push(await runOnce(system, port, subscribers, TARGET));
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    return report(runs, port, open, options.database);
  } finally {
    await system.close();
    await closeListeners();
  }
}

function report(
  runs: Run[],
  port: number,
  open: string[],
  database: DatabaseKind,
): { markdown: string; met: boolean; summary: string } {
  const withSubs = runs.filter((r) => r.subscribers);
  const without = runs.filter((r) => !r.subscribers);
  const s = (ms: number) => fmt(ms / 1000, 2);
  const med = (list: Run[], pick: (r: Run) => number) => median(list.map(pick));
  const ratio = med(withSubs, (r) => r.wallMs) / med(without, (r) => r.wallMs);
  const events = median(withSubs.map((r) => r.done![0].events));
  const row = (name: string, list: Run[]) => [
    name,
    list.map((r) => s(r.wallMs)).join(', '),
    s(med(list, (r) => r.wallMs)),
    list[0].subscribers ? list.map((r) => s(r.deliveredMs!)).join(', ') : '—',
    s(med(list, (r) => r.cpu.gateway)),
    s(med(list, (r) => r.cpu.worker)),
    s(med(list, (r) => r.cpu.nmap)),
    list[0].subscribers ? s(med(list, (r) => r.cpu.client)) : '—',
  ];
  const gatewayPerEvent =
    ((med(withSubs, (r) => r.cpu.gateway) - med(without, (r) => r.cpu.gateway)) * 1000) / events;
  const checks = withSubs.flatMap((r) =>
    r.done!.map(
      (d) =>
        `${d.kind} ${d.events} events (${d.lines} lines), seqs ${d.firstSeq}–${d.lastSeq}, ` +
        `${d.outOfOrder} out of order, ended by ${d.terminal ?? d.closedBy}`,
    ),
  );
  const met = ratio <= WIDE_SUBSCRIBERS_TARGET;
  const markdown = [
    `### wide-subscribers: the /16 with a WebSocket and an SSE subscriber attached, and without (${database})`,
    '',
    `\`${FLAGS} -p ${port}\` over ${TARGET} (listeners at ${open.join(', ')}), chunk_size ${CHUNK_SIZE}, ` +
      `concurrency ${CONCURRENCY}, on \`npm start\`'s worker setup (one worker, WORKER_CONCURRENCY 2); a fresh ` +
      `scan definition per run, timed from the execute to the run's \`finished_at\`. Subscribers: one raw ` +
      `WebSocket and one SSE client in a child process, both reading every event. Paths interleaved (ABBA) after ` +
      `a warm-up /20 of each. CPU in seconds over the run (the gateway's until the subscribers had the end).`,
    '',
    markdownTable(
      [
        'path',
        'runs (s)',
        'median s',
        'subscribers had scan_complete (s)',
        'gateway CPU',
        'worker CPU',
        'nmap CPU',
        'client CPU',
      ],
      [row('with 1 WebSocket + 1 SSE subscriber', withSubs), row('without subscribers', without)],
    ),
    '',
    `With ÷ without (medians): **${fmt(ratio, 3)}**; the gateway's CPU per event delivered to both subscribers ` +
      `(the difference of the medians ÷ ${events} events): ${fmt(gatewayPerEvent, 2)} µs.`,
    '',
    ...checks.map((c) => `- ${c}`),
    '',
    `Target (issue 20 point 3): with ÷ without ≤ ${WIDE_SUBSCRIBERS_TARGET} → **${met ? 'met' : 'MISSED'}**.`,
  ].join('\n');
  return { markdown, met, summary: `with ÷ without subscribers ${fmt(ratio, 3)}, target ≤ 1.1` };
}

/** One run on a fresh scan definition, with or without the two subscribers. */
async function runOnce(
  system: BenchSystem,
  port: number,
  subscribers: boolean,
  target: string,
): Promise<Run> {
  const created = await postJson(
    system.url,
    '/api/scans',
    {
      // Benchmarks time the scan and its report, not the rescan of its changes.
      verify_changes: false,
      name: `wide-subscribers ${subscribers ? 'with' : 'without'} ${nowMs()}`,
      target,
      ports: String(port),
      scan_arguments: FLAGS,
      chunk_size: CHUNK_SIZE,
      concurrency: CONCURRENCY,
    },
    system.auth,
  );
  if (created.status !== 201) throw new Error(`POST /api/scans answered ${created.status}`);
  const scanId = created.body.scan.id as number;
  const hosts = 2 ** (32 - Number(target.split('/')[1]));
  const client = subscribers ? await openSubscribers(system, scanId) : undefined;
  try {
    const gateway = system.gateway.child.pid!;
    const worker = system.workers[0].child.pid!;
    const before = { g: cpuTimesOf(gateway), w: cpuTimesOf(worker), c: client?.cpu() ?? 0 };
    const sentAt = nowMs();
    const executed = await fetch(`${system.url}/api/scans/${scanId}/execute`, { headers: system.auth });
    const body = (await executed.json()) as { result_id?: number };
    if (executed.status !== 200)
      throw new Error(`execute answered ${executed.status}: ${JSON.stringify(body)}`);
    const finishedAt = await waitCompleted(system, body.result_id!, hosts);
    const done = client ? await withTimeout(client.done, RUN_TIMEOUT_MS, 'the subscribers') : undefined;
    const after = { g: cpuTimesOf(gateway), w: cpuTimesOf(worker), c: client?.cpu() ?? 0 };
    if (done) {
      for (const d of done) {
        if (d.terminal !== 'scan_complete' || d.outOfOrder > 0 || d.firstSeq !== 1 || d.lastSeq !== d.events)
          throw new Error(`subscriber ${d.kind}: ${JSON.stringify(d)}`);
      }
      if (done[0].events !== done[1].events || done[0].lines < hosts)
        throw new Error(`subscribers disagree or miss lines: ${JSON.stringify(done)}`);
    }
    return {
      subscribers,
      wallMs: finishedAt - sentAt,
      deliveredMs: done ? Math.max(...done.map((d) => d.terminalAt)) - sentAt : undefined,
      cpu: {
        gateway: after.g.selfMs - before.g.selfMs,
        worker: after.w.selfMs - before.w.selfMs,
        nmap: after.w.childrenMs - before.w.childrenMs,
        client: after.c - before.c,
      },
      done,
    };
  } finally {
    await client?.close();
  }
}

/** The run's finished_at (ms since the epoch) once it completed with every host up and the open ports found. */
async function waitCompleted(system: BenchSystem, resultId: number, hosts: number): Promise<number> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const run = await getJson(system.url, `/api/results/${resultId}?per_page=1`, system.auth);
    if (!run.result) throw new Error(`GET /api/results/${resultId}: ${JSON.stringify(run).slice(0, 300)}`);
    if (run.result.status === 'completed') {
      if (run.summary?.hosts_up !== hosts)
        throw new Error(`run ${resultId}: ${run.summary?.hosts_up} hosts up`);
      return Date.parse(run.result.finished_at);
    }
    if (['failed', 'stopped'].includes(run.result.status))
      throw new Error(`run ${resultId} ${run.result.status}`);
    if (Date.now() > deadline) throw new Error(`run ${resultId} not completed in ${RUN_TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}

/** Forks the client, opens both subscribers (greeted), and hands back their results and the client's CPU. */
async function openSubscribers(
  system: BenchSystem,
  scanId: number,
): Promise<{ done: Promise<SubscriberDone[]>; cpu: () => number; close: () => Promise<void> }> {
  const child = fork(join(__dirname, 'wide-subscribers-client.js'), [], { stdio: 'inherit' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = onCleanup('wide-subscribers client', async () => {
    if (child.connected) child.send({ type: 'close' });
    await withTimeout(exited, 10_000, 'the client to exit').catch(() => child.kill('SIGKILL'));
  });
  const finished: SubscriberDone[] = [];
  let ready!: () => void;
  let failed!: (error: Error) => void;
  const isReady = new Promise<void>((resolve, reject) => ((ready = resolve), (failed = reject)));
  let allDone!: (done: SubscriberDone[]) => void;
  const done = new Promise<SubscriberDone[]>((resolve) => (allDone = resolve));
  child.on('message', (message: { type: string; message?: string } & SubscriberDone) => {
    if (message.type === 'ready') ready();
    else if (message.type === 'error') failed(new Error(`subscriber client: ${message.message}`));
    else if (message.type === 'done') {
      finished.push(message);
      if (finished.length === 2) allDone(finished.sort((a, b) => a.kind.localeCompare(b.kind)).reverse());
    }
  });
  child.once('exit', () => failed(new Error('the subscriber client exited')));
  child.send({ type: 'open', url: system.url, scanId, headers: system.auth });
  try {
    await withTimeout(isReady, 30_000, 'the subscribers to be greeted');
  } catch (error) {
    await stop();
    throw error;
  }
  return { done, cpu: () => cpuTimesOf(child.pid!).selfMs, close: stop };
}
