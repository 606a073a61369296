// Fan-out benchmarks of issue 12: (1) WebSocket and SSE subscribers of one scan spread over two gateways while the
// scan streams lines — events lost, delivery latency from the publish, gateway memory per subscriber; (2) idle
// `/api/stream` subscribers on one gateway — its memory and CPU. Nothing is scanned: the lines are published the
// way a worker publishes them (ScanEventPublisher.publishMany, in batches), from this process, so that the
// publish time and the arrival time are read off one clock.
import { request as httpRequest, IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Redis from 'ioredis';
import { redisKeys } from '@nso/contracts';
import { ScanEventPublisher } from '@nso/events';
import type { DatabaseKind } from '../test/support/database';
import type { AppProcess } from '../test/support/processes';
import {
  assertLoopback,
  cpuTimesOf,
  fmt,
  markdownTable,
  memoryOf,
  nowMs,
  onCleanup,
  postJson,
  quantile,
  sleep,
  startApp,
  startBenchSystem,
  withTimeout,
} from './support';

export interface FanoutOptions {
  websockets: number;
  sse: number;
  lines: number;
  /** Lines published first, on the same subscribers, whose latency is reported apart (every process starts cold). */
  warmupLines: number;
  /** Lines per publish (a worker publishes the lines of one stdout read together). */
  linesPerPublish: number;
  /** Lines per second the publisher aims at. */
  linesPerSecond: number;
  /** Worker threads holding the subscribers (bench/fanout-client.js); the client needs cores as the gateways do. */
  clientThreads: number;
  /** WebSocket client of the subscribers: a minimal frame reader (`raw`, the default) or the `ws` library. */
  wsClient: 'raw' | 'ws';
  idleStreams: number;
  idleSeconds: number;
  database: DatabaseKind;
}

export const FANOUT_DEFAULTS: FanoutOptions = {
  websockets: 500,
  sse: 100,
  lines: 20_000,
  warmupLines: 2_000,
  linesPerPublish: 20,
  linesPerSecond: 2_000,
  clientThreads: 2,
  wsClient: 'raw',
  idleStreams: 1_000,
  idleSeconds: 30,
  database: 'postgresql',
};

/** Every SAMPLE_EVERY-th line is timed on every subscriber (all are counted). */
const SAMPLE_EVERY = 10;

interface Subscriber {
  received: number;
  /** The gateway ended the connection (a subscriber too slow for it is dropped). */
  droppedByServer: boolean;
  close(): void;
}

interface Gateway {
  url: string;
  process: AppProcess;
}

export async function runFanout(
  options: FanoutOptions,
): Promise<{ markdown: string; met: boolean; summary: string }> {
  const system = await startBenchSystem({
    workers: 0,
    workerConcurrency: 1,
    database: options.database,
    env: { RATE_LIMIT_ENABLED: 'false', EVENT_LOG_MAX: String(Math.max(10_000, options.lines * 2)) },
  });
  const closeAll: Array<() => void> = [];
  const closeSubscribers = onCleanup('fan-out subscribers', () => closeAll.splice(0).forEach((c) => c()));
  try {
    const second = await startApp('gateway', { ...system.env, HOST: '127.0.0.1', PORT: '0' });
    onCleanup('second gateway', () => second.stop('SIGKILL'));
    const [, listening] = await second.waitForOutput(/API listening on (http:\/\/[^\s/]+)\/api/, 60_000);
    const gateways: Gateway[] = [
      { url: system.url, process: system.gateway },
      { url: listening.replace('localhost', '127.0.0.1'), process: second },
    ];
    // Idle streams first, on a fresh gateway, so that the fan-out's garbage does not blur their memory.
    const idle = await idleStreams(gateways[0], options);
    // A scan definition the admin owns; nothing runs it (no worker), so nothing is scanned.
    const created = await postJson(
      system.url,
      '/api/scans',
      {
        // Benchmarks time the scan and its report, not the rescan of its changes.
        verify_changes: false,
        name: 'fan-out benchmark',
        target: assertLoopback('127.0.0.1'),
        ports: '1',
        scan_arguments: '-sT -Pn -n',
      },
      system.auth,
    );
    if (created.status !== 201) throw new Error(`POST /api/scans answered ${created.status}`);
    const scanId: number = created.body.scan.id;
    const resultId = 1;

    const memoryBefore = gateways.map((g) => memoryOf(g.process.child.pid!).rssMiB);
    // The subscribers, alternately on the two gateways, spread over client threads (bench/fanout-client.js).
    const plan: Array<['ws' | 'sse', string]> = [
      ...Array.from({ length: options.websockets }, (_, i) => ['ws', gateways[i % 2].url] as ['ws', string]),
      ...Array.from({ length: options.sse }, (_, i) => ['sse', gateways[i % 2].url] as ['sse', string]),
    ];
    const clients = Array.from({ length: options.clientThreads }, () => new ClientThread());
    closeAll.push(...clients.map((client) => () => client.terminate()));
    await Promise.all(
      clients.map((client, t) =>
        client.open({
          scanId,
          headers: system.auth,
          subscribers: plan.filter((_, i) => i % clients.length === t),
          sampleEvery: SAMPLE_EVERY,
          wsClient: options.wsClient,
        }),
      ),
    );
    await sleep(1000);
    const memoryAfter = gateways.map((g) => memoryOf(g.process.child.pid!).rssMiB);
    const perGateway = [Math.ceil(plan.length / 2), Math.floor(plan.length / 2)];

    const redis = new Redis(system.env.REDIS_URL);
    onCleanup('publisher connection', () => redis.disconnect());
    const publisher = new ScanEventPublisher(redis, redisKeys(system.prefix), {
      maxLength: Math.max(10_000, options.lines * 2),
      ttlSeconds: 3600,
    });
    // Warm-up lines first, on the same subscribers and at the same pace, straight into the measured ones: every
    // process starts cold (code not yet compiled, buffers not yet grown). Counted and checked like the rest, but
    // their latency is reported apart.
    const total = options.warmupLines + options.lines;
    const intervalMs = (1000 * options.linesPerPublish) / options.linesPerSecond;
    let cpuBefore: number[] = [];
    let clientCpuBefore = process.cpuUsage();
    let publishStart = nowMs();
    const warmupStart = publishStart;
    for (let sent = 0; sent < total; sent += options.linesPerPublish) {
      if (sent === options.warmupLines) {
        cpuBefore = gateways.map((g) => cpuTimesOf(g.process.child.pid!).selfMs);
        clientCpuBefore = process.cpuUsage();
        publishStart = nowMs();
      }
      const count = Math.min(options.linesPerPublish, total - sent);
      const at = nowMs().toFixed(3);
      const bodies = Array.from({ length: count }, (_, k) => ({
        event: 'line' as const,
        batch_id: 1,
        line: `L${sent + k} ${at}`,
      }));
      void publisher.publishMany({ scanId, resultId }, bodies);
      const next = warmupStart + ((sent + count) / options.linesPerPublish) * intervalMs;
      const wait = next - nowMs();
      if (wait > 0) await sleep(wait);
    }
    const publishMs = nowMs() - publishStart;
    const deadline = nowMs() + 120_000;
    const allIn = async () =>
      (await Promise.all(clients.map((client) => client.progress()))).flat().every((n) => n >= total);
    while (!(await allIn()) && nowMs() < deadline) await sleep(200);
    const deliveredMs = nowMs() - publishStart;
    const cpuMs = gateways.map((g, i) => cpuTimesOf(g.process.child.pid!).selfMs - cpuBefore[i]);
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const results = await Promise.all(clients.map((client) => client.finish()));
    await closeSubscribers();
    const subscribers = results.flatMap((result) => result.subscribers);
    const lost = subscribers.reduce((sum, s) => sum + Math.max(0, total - s.received), 0);
    const outOfOrder = subscribers.reduce((sum, s) => sum + s.outOfOrder, 0);
    const dropped = subscribers.filter((s) => s.droppedByServer).length;
    const droppedLines = subscribers
      .filter((s) => s.droppedByServer)
      .reduce((sum, s) => sum + Math.max(0, total - s.received), 0);
    // Samples come as (publish time, latency) pairs; also kept per second of publishing, to see when a tail grows.
    const latencies: number[] = [];
    const warmup: number[] = [];
    const perSecond: number[][] = [];
    for (const { latencies: pairs } of results) {
      for (let i = 0; i < pairs.length; i += 2) {
        if (pairs[i] < publishStart - 0.001) {
          warmup.push(pairs[i + 1]);
          continue;
        }
        latencies.push(pairs[i + 1]);
        const second = Math.max(0, Math.floor((pairs[i] - publishStart) / 1000));
        (perSecond[second] ??= []).push(pairs[i + 1]);
      }
    }
    warmup.sort((x, y) => x - y);
    latencies.sort((x, y) => x - y);
    perSecond.forEach((values) => values?.sort((x, y) => x - y));
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);

    const met = lost === 0 && outOfOrder === 0 && p99 <= 100;
    const summary = `${lost} lost, ${outOfOrder} out of order, p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms`;
    const markdown = [
      `### Fan-out: ${options.websockets} WebSocket + ${options.sse} SSE subscribers of one scan on 2 gateways, ${options.lines} lines`,
      '',
      `Lines published ${options.linesPerPublish} at a time at ${options.linesPerSecond} lines/s (${fmt(publishMs / 1000, 2)} s); ` +
        `${lost === 0 ? 'every subscriber had all of them' : 'the benchmark stopped waiting'} after ${fmt(deliveredMs / 1000, 2)} s. ` +
        `${dropped} subscribers were dropped by a gateway as too slow (${droppedLines} of the missing lines were theirs; ` +
        `a real client reconnects and resumes from the log). Latency = arrival at the client − ` +
        `publish (one clock), every ${SAMPLE_EVERY}th line on every subscriber (${latencies.length} samples). ` +
        `The subscribers ran in ${options.clientThreads} client threads of the benchmark's process ` +
        `(WebSocket client: ${options.wsClient === 'raw' ? 'a minimal frame reader' : 'the ws library'}), which used ` +
        `${fmt((clientCpu.user + clientCpu.system) / 1e6, 2)} s of CPU meanwhile (publisher included).`,
      '',
      markdownTable(
        ['events lost', 'out of order', 'latency p50', 'latency p90', 'latency p99', 'max', 'target'],
        [
          [
            lost,
            outOfOrder,
            `${fmt(p50)} ms`,
            `${fmt(quantile(latencies, 0.9))} ms`,
            `${fmt(p99)} ms`,
            `${fmt(latencies.at(-1) ?? NaN)} ms`,
            '0 lost, p99 ≤ 100 ms',
          ],
        ],
      ),
      '',
      `Warm-up: ${options.warmupLines} lines published first at the same pace on the same subscribers (counted and ` +
        `checked with the rest): latency p50 ${fmt(quantile(warmup, 0.5))} ms, p99 ${fmt(quantile(warmup, 0.99))} ms, ` +
        `max ${fmt(warmup.at(-1) ?? NaN)} ms. Latency p50 / p99 (ms) of the measured lines published in each second:`,
      '',
      markdownTable(
        perSecond.map((_, second) => `${second}–${second + 1} s`),
        [
          perSecond.map((values) =>
            values ? `${fmt(quantile(values, 0.5))} / ${fmt(quantile(values, 0.99))}` : '—',
          ),
        ],
      ),
      '',
      markdownTable(
        [
          'gateway',
          'subscribers',
          'RSS before',
          'RSS with subscribers',
          'per subscriber',
          'CPU while streaming',
        ],
        gateways.map((_, i) => [
          String(i + 1),
          perGateway[i],
          `${fmt(memoryBefore[i])} MiB`,
          `${fmt(memoryAfter[i])} MiB`,
          `${fmt(((memoryAfter[i] - memoryBefore[i]) * 1024) / perGateway[i])} KiB`,
          `${fmt(cpuMs[i] / 1000, 2)} s`,
        ]),
      ),
      '',
      idle,
    ].join('\n');
    return { markdown, met, summary };
  } finally {
    await closeSubscribers();
    await system.close();
  }
}

interface ClientResult {
  subscribers: Array<{ received: number; outOfOrder: number; droppedByServer: boolean }>;
  /** (publish time, latency) pairs, ms. */
  latencies: Float64Array;
}

/** One worker thread of subscribers (bench/fanout-client.js), driven by request and answer. */
class ClientThread {
  private readonly worker = new Worker(join(__dirname, 'fanout-client.js'));
  private readonly answers: Array<(message: unknown) => void> = [];

  constructor() {
    this.worker.on('message', (message: { type: string; message?: string }) => {
      if (message.type === 'error') throw new Error(`fan-out client: ${message.message}`);
      this.answers.shift()?.(message);
    });
    this.worker.on('error', (error) => {
      throw error;
    });
  }

  open(plan: {
    scanId: number;
    headers: Record<string, string>;
    subscribers: Array<['ws' | 'sse', string]>;
    sampleEvery: number;
    wsClient: 'raw' | 'ws';
  }): Promise<void> {
    return withTimeout(this.ask({ type: 'open', ...plan }), 120_000, 'subscribers opened').then(
      () => undefined,
    );
  }

  async progress(): Promise<number[]> {
    return ((await this.ask({ type: 'progress' })) as { received: number[] }).received;
  }

  finish(): Promise<ClientResult> {
    return this.ask({ type: 'finish' }) as Promise<ClientResult>;
  }

  terminate(): void {
    void this.worker.terminate();
  }

  private ask(message: object): Promise<unknown> {
    return new Promise((resolve) => {
      this.answers.push(resolve);
      this.worker.postMessage(message);
    });
  }
}

/** Idle `/api/stream` subscribers on one gateway: its memory, and its CPU while nothing is published. */
async function idleStreams(gateway: Gateway, options: FanoutOptions): Promise<string> {
  const pid = gateway.process.child.pid!;
  const before = memoryOf(pid).rssMiB;
  const streams: Subscriber[] = [];
  const closeStreams = onCleanup('idle streams', () => streams.splice(0).forEach((s) => s.close()));
  try {
    for (let i = 0; i < options.idleStreams; i++) {
      streams.push(await openSse(gateway.url, '/api/stream', {}, () => undefined));
    }
    await sleep(2000);
    const after = memoryOf(pid).rssMiB;
    const cpu = cpuTimesOf(pid).selfMs;
    await sleep(options.idleSeconds * 1000);
    const cpuMs = cpuTimesOf(pid).selfMs - cpu;
    return [
      `### ${options.idleStreams} idle /api/stream subscribers on one gateway`,
      '',
      markdownTable(
        [
          'RSS before',
          'RSS with subscribers',
          'per subscriber',
          `CPU over ${options.idleSeconds} s idle`,
          'CPU share',
        ],
        [
          [
            `${fmt(before)} MiB`,
            `${fmt(after)} MiB`,
            `${fmt(((after - before) * 1024) / options.idleStreams)} KiB`,
            `${fmt(cpuMs)} ms`,
            `${fmt((100 * cpuMs) / (options.idleSeconds * 1000), 2)} % of a core`,
          ],
        ],
      ),
    ].join('\n');
  } finally {
    await closeStreams();
  }
}

/** An SSE subscriber (scan events or /api/stream), parsing `data:` lines; resolves once the headers are in. */
async function openSse(
  baseUrl: string,
  path: string,
  headers: Record<string, string>,
  onLine: (line: string, recvAt: number) => void,
): Promise<Subscriber> {
  const url = new URL(path, baseUrl);
  let closing = false;
  const subscriber: Subscriber = { received: 0, droppedByServer: false, close: () => undefined };
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          headers: { accept: 'text/event-stream', ...headers },
        },
        (res: IncomingMessage) => {
          if (res.statusCode !== 200) return reject(new Error(`SSE ${path} answered ${res.statusCode}`));
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const recvAt = nowMs();
            buffer += chunk;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (!data || !/^event: line$/m.test(block)) continue;
              subscriber.received++;
              onLine((JSON.parse(data) as { line: string }).line, recvAt);
            }
          });
          res.on('error', () => undefined);
          res.on('close', () => (subscriber.droppedByServer ||= !closing));
          resolve();
        },
      );
      req.on('error', reject);
      subscriber.close = () => {
        closing = true;
        req.destroy();
      };
      req.end();
    }),
    10_000,
    `SSE ${path}`,
  );
  return subscriber;
}
