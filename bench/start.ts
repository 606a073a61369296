// Benchmark 3, start of a /8: POST /api/scans/start over 127.0.0.0/8 (side by side with a 1-address scan), its
// response time and the gateway's RSS before and after, then every scan stopped with POST /api/scans/:id/stop.
// Only the gateway runs (no worker), so nothing is scanned: the queued batches are withdrawn by the stops. Runs are
// delegated to the `local` pool, a client row kept online by this process (no worker process behind it).
import type { DatabaseKind } from '../test/support/database';
import { keepPoolsOnline } from './clients';
import {
  assertLoopback,
  fmt,
  getJson,
  markdownTable,
  median,
  memoryOf,
  p90,
  postJson,
  sleep,
  startBenchSystem,
} from './support';

export interface StartOptions {
  runs: number;
  database: DatabaseKind;
  big: string;
  small: string;
}

export const START_DEFAULTS: StartOptions = {
  runs: 7,
  database: 'sqlite',
  big: '127.0.0.0/8',
  small: '127.0.0.1',
};
/** Holding a /8's 16,777,216 addresses as strings would take well over 1 GiB; anything near this means expansion. */
export const START_RSS_LIMIT_MIB = 64;
const FLAGS = ['-sT', '-Pn', '-n', '-p', '1'];

export interface StartResult {
  markdown: string;
  met: boolean;
  summary: string;
}

interface Started {
  target: string;
  scanId: number;
  ms: number;
  rssAfter: number;
}

export async function runStart(options: StartOptions): Promise<StartResult> {
  const big = assertLoopback(options.big);
  const small = assertLoopback(options.small);
  const system = await startBenchSystem({ workers: 0, workerConcurrency: 1, database: options.database });
  const pools = await keepPoolsOnline(system.database, [
    { clientId: 'local', scanRange: ['127.0.0.0/8'] },
  ]).catch(async (error: unknown) => {
    await system.close();
    throw error;
  });
  const pid = system.gateway.child.pid!;
  const open: number[] = [];
  try {
    const start = async (target: string): Promise<Started> => {
      const r = await postJson(
        system.url,
        '/api/scans/start',
        { nmap_flags: FLAGS, targets: [target], chunk_size: 256 },
        system.auth,
      );
      if (r.status !== 200)
        throw new Error(`scans/start ${target} answered ${r.status}: ${JSON.stringify(r.body)}`);
      open.push(r.body.scan_id);
      return { target, scanId: r.body.scan_id, ms: r.ms, rssAfter: memoryOf(pid).rssMiB };
    };
    const stop = async (scanId: number): Promise<number> => {
      const r = await postJson(system.url, `/api/scans/${scanId}/stop`, undefined, system.auth);
      if (r.status !== 200) throw new Error(`stop ${scanId} answered ${r.status}: ${JSON.stringify(r.body)}`);
      open.splice(open.indexOf(scanId), 1);
      return r.ms;
    };

    // Warm-up: one of each, stopped again, so that first-request costs (lazy init, JIT) are not measured.
    process.stderr.write('start: warm-up');
    for (const w of [await start(big), await start(small)]) await stop(w.scanId);
    await sleep(500);
    const before = memoryOf(pid);
    process.stderr.write(`\nstart: ${options.runs} starts of each, interleaved`);
    const bigRuns: Started[] = [];
    const smallRuns: Started[] = [];
    for (let i = 0; i < options.runs; i++) {
      if (i % 2 === 0) {
        bigRuns.push(await start(big));
        smallRuns.push(await start(small));
      } else {
        smallRuns.push(await start(small));
        bigRuns.push(await start(big));
      }
      process.stderr.write('.');
    }
    const afterStarts = memoryOf(pid);
    // What the gateway says about one /8 run: nothing beyond the counts was materialised.
    const described = await getJson(system.url, `/api/scans/${bigRuns[0].scanId}`, system.auth);
    const progress = described.scan?.progress;
    process.stderr.write('\nstart: stopping every scan');
    const stopBigMs: number[] = [];
    const stopSmallMs: number[] = [];
    for (let i = 0; i < bigRuns.length; i++) {
      stopBigMs.push(await stop(bigRuns[i].scanId));
      stopSmallMs.push(await stop(smallRuns[i].scanId));
    }
    process.stderr.write('\n');
    const stoppedStatus = (await getJson(system.url, `/api/scans/${bigRuns[0].scanId}`, system.auth)).scan
      ?.status;
    await sleep(500);
    const afterStops = memoryOf(pid);

    const bigMs = bigRuns.map((r) => r.ms);
    const smallMs = smallRuns.map((r) => r.ms);
    const growth = Math.max(afterStarts.rssMiB, ...bigRuns.map((r) => r.rssAfter)) - before.rssMiB;
    const hwmGrowth = Math.max(0, afterStops.hwmMiB - before.hwmMiB);
    const met =
      growth < START_RSS_LIMIT_MIB && hwmGrowth < START_RSS_LIMIT_MIB && stoppedStatus === 'stopped';
    const row = (name: string, values: number[]) => [
      name,
      values.length,
      fmt(median(values)),
      fmt(p90(values)),
      fmt(Math.min(...values)),
      fmt(Math.max(...values)),
    ];
    const timing = markdownTable(
      ['request', 'runs', 'median ms', 'p90 ms', 'min ms', 'max ms'],
      [
        row(`POST /api/scans/start \`${big}\` (16,777,216 addresses)`, bigMs),
        row(`POST /api/scans/start \`${small}\` (1 address)`, smallMs),
        row(`POST /api/scans/:id/stop of a ${big} scan`, stopBigMs),
        row(`POST /api/scans/:id/stop of a ${small} scan`, stopSmallMs),
      ],
    );
    const memory = markdownTable(
      ['gateway process (pid ' + pid + ')', 'VmRSS MiB', 'VmHWM MiB'],
      [
        ['after warm-up, before the measured starts', fmt(before.rssMiB), fmt(before.hwmMiB)],
        ...bigRuns.map((r, i) => [`after /8 start ${i + 1} (scan ${r.scanId})`, fmt(r.rssAfter), '']),
        [
          `after all ${bigRuns.length + smallRuns.length} starts`,
          fmt(afterStarts.rssMiB),
          fmt(afterStarts.hwmMiB),
        ],
        ['after every scan was stopped', fmt(afterStops.rssMiB), fmt(afterStops.hwmMiB)],
        [
          '**growth over the baseline** (RSS: largest; HWM: peak)',
          `**${fmt(growth)}**`,
          `**${fmt(hwmGrowth)}**`,
        ],
      ],
    );
    const summary =
      `/8 start median ${fmt(median(bigMs))} ms vs 1 address ${fmt(median(smallMs))} ms; ` +
      `RSS growth ${fmt(growth)} MiB, peak ${fmt(hwmGrowth)} MiB over baseline`;
    const markdown = [
      `### start of a /8 (${options.database})`,
      '',
      `Flags \`${FLAGS.join(' ')}\`, chunk_size 256, default concurrency (6): a /8 is 65,536 batches, of which the ` +
        `gateway enqueues the first 6. Gateway only, no worker (nothing is scanned; the stops withdraw the queued ` +
        `batches). One warm-up start of each (stopped), then ${options.runs} starts of each, interleaved, then every scan stopped.`,
      '',
      timing,
      '',
      memory,
      '',
      `\`GET /api/scans/${bigRuns[0].scanId}\` after the starts: progress ${JSON.stringify(progress)}; after the stop: status \`${stoppedStatus}\`.`,
      '',
      `Target: the /8 is never expanded in the gateway (RSS and peak RSS grow by less than ${START_RSS_LIMIT_MIB} MiB; ` +
        `16.7 M addresses as strings would need > 1 GiB) and every scan stops → **${met ? 'met' : 'MISSED'}**.`,
    ].join('\n');
    return { markdown, met, summary };
  } finally {
    // Whatever failed above, no run is left queued.
    for (const scanId of [...open])
      await postJson(system.url, `/api/scans/${scanId}/stop`, undefined, system.auth).catch(() => undefined);
    await pools.close();
    await system.close();
  }
}
