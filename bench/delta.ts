// Delta benchmarks.
// `delta-diff`: a 65,536-host pair (127.1.0.0/16, 4 open ports a host, 1 % of the hosts changed) written as nmap
// XML files, diffed side by side by Debian's ndiff and by this product (its XML parser + diffResults, from the
// build), each under /usr/bin/time -v for wall time and peak RSS; plus diffResults alone on the loaded runs (what
// the delta service spends once both runs are read from the database).
// `delta-latency`: from the moment a /16 run is complete to its report being readable over the API, through
// gateway, worker and delta processes. The /16 run is an import of an nmap XML file (POST .../results/import):
// it completes the run and queues its diff exactly as RunFinalizer does after a scan's last batch (see
// docs/performance.md for why a scanned /16 is not used).
import { execFile } from 'node:child_process';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { DatabaseKind } from '../test/support/database';
import { Listener, listenOn } from '../test/support/listeners';
import { nmapXml, nmapXmlLines, type XmlHost } from '../test/support/nmap-xml';
import {
  assertLoopback,
  fmt,
  getJson,
  markdownTable,
  median,
  nowMs,
  onCleanup,
  postJson,
  startBenchSystem,
  withTimeout,
} from './support';

export const NDIFF = process.env.NDIFF_PATH ?? '/usr/bin/ndiff';
const TIME = '/usr/bin/time';
const PORTS = [22, 80, 443, 8080];
const FLAGS = ['-sT', '-Pn', '-n', `-p${PORTS.join(',')}`];

export interface DeltaDiffOptions {
  hosts: number;
  runs: number;
  distRoot: string;
}
export const DELTA_DIFF_DEFAULTS = { hosts: 65_536, runs: 3 };

/** The i-th address of 127.1.0.0/16 (i < 65,536). */
const address = (i: number) => assertLoopback(`127.1.${i >> 8}.${i & 255}`);

/**
 * The pair: every host up with 4 open ports; in the current run 1 % of the hosts changed, a third each way:
 * a port closed, a port opened (8443), a service version changed.
 */
export function* pairHosts(count: number, current: boolean): Generator<XmlHost> {
  for (let i = 0; i < count; i++) {
    const ports = PORTS.map((port) => ({
      protocol: 'tcp',
      port,
      state: 'open',
      service: port === 22 ? 'ssh' : 'http',
      product: port === 22 ? 'OpenSSH' : 'nginx',
      version: port === 22 ? '9.2p1' : '1.22.1',
    }));
    if (current && i % 100 === 7) {
      const kind = Math.floor(i / 100) % 3;
      if (kind === 0) ports[1].state = 'closed';
      else if (kind === 1) ports.push({ ...ports[3], port: 8443, service: 'https-alt' });
      else ports[0].version = '9.6p1';
    }
    yield { address: address(i), state: 'up', ports };
  }
}

/** Writes the hosts as one nmap XML file (line by line: a /16 never is one string). */
export async function writeXml(path: string, hosts: Iterable<XmlHost>, args: string): Promise<void> {
  const out = createWriteStream(path);
  for (const line of nmapXmlLines(args, hosts)) {
    if (!out.write(line + '\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

interface Timed {
  wallMs: number;
  peakMiB: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time -v: wall time (ms, measured here) and peak RSS (MiB, from time). */
function timed(command: string, args: string[], timeoutMs: number): Promise<Timed> {
  const started = nowMs();
  return withTimeout(
    new Promise<Timed>((resolve, reject) => {
      execFile(TIME, ['-v', command, ...args], { maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
        const wallMs = nowMs() - started;
        // ndiff exits 1 when the files differ; anything else is a failure.
        const code = (error as { code?: number } | null)?.code;
        if (error && code !== 1) return reject(new Error(`${command} failed: ${stderr.slice(-2000)}`));
        const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
        resolve({ wallMs, peakMiB: kb ? Number(kb[1]) / 1024 : NaN, stdout });
      });
    }),
    timeoutMs,
    command,
  );
}

export async function runDeltaDiff(
  options: DeltaDiffOptions,
): Promise<{ markdown: string; met: boolean; summary: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'nsobench-delta-'));
  const removeDir = onCleanup('delta XML files', () => rm(dir, { recursive: true, force: true }));
  try {
    const args = `nmap ${FLAGS.join(' ')} -oX - 127.1.0.0/16`;
    const baseline = join(dir, 'baseline.xml');
    const current = join(dir, 'current.xml');
    process.stderr.write(`delta-diff: writing two ${options.hosts}-host nmap XML files\n`);
    await writeXml(baseline, pairHosts(options.hosts, false), args);
    await writeXml(current, pairHosts(options.hosts, true), args);
    const sizeMiB = (statSync(baseline).size / 1024 / 1024).toFixed(1);
    const haveNdiff = existsSync(NDIFF);
    const haveTime = existsSync(TIME);
    if (!haveTime) throw new Error(`${TIME} is missing (Debian package "time"): it measures peak memory`);

    const ours: Array<{
      wallMs: number;
      peakMiB: number;
      parseMs: number;
      diffMs: number;
      warmDiffMs: number;
      summary: unknown;
    }> = [];
    const theirs: Timed[] = [];
    for (let r = 0; r < options.runs; r++) {
      process.stderr.write(`delta-diff: run ${r + 1}/${options.runs}: ours`);
      const o = await timed(
        process.execPath,
        [
          '--expose-gc',
          join(__dirname, 'delta-diff-child.js'),
          options.distRoot,
          baseline,
          current,
          JSON.stringify(FLAGS),
        ],
        600_000,
      );
      const parsed = JSON.parse(o.stdout.trim().split('\n').pop()!);
      ours.push({
        wallMs: o.wallMs,
        peakMiB: o.peakMiB,
        parseMs: parsed.parseMs,
        diffMs: parsed.diffMs,
        warmDiffMs: parsed.warmDiffMs,
        summary: parsed.summary,
      });
      if (haveNdiff) {
        process.stderr.write(', ndiff');
        theirs.push(await timed(NDIFF, [baseline, current], 1_800_000));
      }
      process.stderr.write('\n');
    }
    const diffMs = median(ours.map((o) => o.diffMs));
    const oursWall = median(ours.map((o) => o.wallMs));
    const ndiffWall = haveNdiff ? median(theirs.map((t) => t.wallMs)) : NaN;
    const ndiffChanges = haveNdiff ? theirs[0].stdout.split('\n').filter((l) => /^[+-]/.test(l)).length : NaN;
    const rows: Array<Array<string | number>> = [
      [
        'this product: XML parse + diff (files → delta)',
        fmt(oursWall),
        fmt(median(ours.map((o) => o.peakMiB))),
        '',
      ],
      ['  of which parseNmapXml (xml2js), both files', fmt(median(ours.map((o) => o.parseMs))), '', ''],
      ['diffResults alone, first call (what one delta job pays)', fmt(diffMs), '', ''],
      ['diffResults alone, warm (best of 3 calls)', fmt(median(ours.map((o) => o.warmDiffMs))), '', ''],
      haveNdiff
        ? [
            'Debian ndiff (files → text diff)',
            fmt(ndiffWall),
            fmt(median(theirs.map((t) => t.peakMiB))),
            `${ndiffChanges} +/- lines`,
          ]
        : ['Debian ndiff', `not run: ${NDIFF} is missing (npm run bench installs it)`, '', ''],
    ];
    const speedup = ndiffWall / oursWall;
    const diffSpeedup = ndiffWall / diffMs;
    // The target is the product's diff (the delta service's step: both runs are read from the database, not from
    // XML) against ndiff; files → delta is reported beside it, where xml2js's parse dominates.
    const met = diffMs <= 1000 && (!haveNdiff || diffSpeedup >= 20);
    const markdown = [
      `### delta-diff: a ${options.hosts}-host pair (4 open ports a host, 1 % of hosts changed), ${options.runs} runs`,
      '',
      `Two nmap XML files of ${sizeMiB} MiB each. Wall time measured around each process (median), peak RSS from \`/usr/bin/time -v\`.`,
      '',
      markdownTable(['what', 'time (ms)', 'peak RSS (MiB)', 'output'], rows),
      '',
      `Our counts: ${JSON.stringify(ours[0].summary)}.`,
      haveNdiff
        ? `ndiff / diffResults (first call): ${fmt(diffSpeedup, 0)}× — target ≥ 20× and ≤ 1 s. ` +
          `ndiff / ours from the XML files: ${fmt(speedup)}× (our XML parse, not the diff, is the cost there).`
        : 'ndiff missing: only our side measured.',
    ].join('\n');
    return {
      markdown,
      met,
      summary: `diffResults ${fmt(diffMs)} ms, files→delta ${fmt(oursWall)} ms, ndiff ${fmt(ndiffWall)} ms (${fmt(speedup)}× / ${fmt(diffSpeedup, 0)}×)`,
    };
  } finally {
    await removeDir();
  }
}

export interface DeltaLatencyOptions {
  hosts: number;
  runs: number;
  database: DatabaseKind;
}
export const DELTA_LATENCY_DEFAULTS = { hosts: 65_536, runs: 3 };

/**
 * Imports a baseline /16 then `runs` further /16 files (1 % changed each time) into one scan, and times each
 * from the import's answer (the run completed, its diff queued) to the report in GET /api/scan/{id}/reports, and
 * to the delta_report event. One open port a host, as `-sT -Pn -n -p 8080` over 127.1.0.0/16 would give.
 */
export async function runDeltaLatency(
  options: DeltaLatencyOptions,
): Promise<{ markdown: string; met: boolean; summary: string }> {
  const system = await startBenchSystem({
    workers: 1,
    workerConcurrency: 1,
    database: options.database,
    delta: true,
  });
  try {
    const created = await postJson(
      system.url,
      '/api/scans',
      {
        verify_changes: false,
        name: 'delta latency',
        target: '127.1.0.0/16',
        ports: '8080',
        scan_arguments: '-sT -Pn -n',
      },
      system.auth,
    );
    if (created.status !== 201)
      throw new Error(`POST /api/scans answered ${created.status}: ${JSON.stringify(created.body)}`);
    const scanId: number = created.body.scan.id;
    const args = `nmap -sT -Pn -n -p 8080 -oX - 127.1.0.0/16`;
    const file = (round: number) =>
      nmapXml(
        args,
        (function* () {
          for (let i = 0; i < options.hosts; i++) {
            const open = round > 0 && i % 100 === round ? 'closed' : 'open';
            yield {
              address: address(i),
              state: 'up' as const,
              ports: [{ protocol: 'tcp', port: 8080, state: open }],
            };
          }
        })(),
      );
    const importXml = async (xml: string) => {
      const sentAt = nowMs();
      const response = await fetch(`${system.url}/api/scans/${scanId}/results/import`, {
        method: 'POST',
        headers: { ...system.auth, 'content-type': 'application/xml' },
        body: xml,
      });
      const body = (await response.json()) as { result_id?: number };
      if (response.status !== 201)
        throw new Error(`import answered ${response.status}: ${JSON.stringify(body)}`);
      return { resultId: body.result_id!, importMs: nowMs() - sentAt, answeredAt: nowMs() };
    };
    process.stderr.write('delta-latency: importing the baseline /16\n');
    const baselineXml = file(0);
    const sizeMiB = (Buffer.byteLength(baselineXml) / 1024 / 1024).toFixed(1);
    await importXml(baselineXml);
    const rows: Array<Array<string | number>> = [];
    const latencies: number[] = [];
    for (let round = 1; round <= options.runs; round++) {
      const xml = file(round);
      process.stderr.write(`delta-latency: import ${round}/${options.runs}\n`);
      const imported = await importXml(xml);
      let reportAt = 0;
      let reportId = 0;
      const deadline = Date.now() + 120_000;
      while (!reportAt) {
        const list = await getJson(system.url, `/api/scan/${scanId}/reports?per_page=1`, system.auth);
        const top = list.reports?.[0];
        if (top && top.current_result_id === imported.resultId) {
          const one = await getJson(system.url, `/api/report/${top.id}`, system.auth);
          if (one.id === top.id) {
            reportAt = nowMs();
            reportId = top.id;
          }
        }
        if (Date.now() > deadline) throw new Error('no report within 120 s');
        if (!reportAt) await new Promise((r) => setTimeout(r, 20));
      }
      const latency = reportAt - imported.answeredAt;
      latencies.push(latency);
      const report = await getJson(system.url, `/api/report/${reportId}`, system.auth);
      // The delta service logs where its time went: "report N: … (load a ms, diff b ms, store c ms)".
      const split = new RegExp(`report ${reportId}: [^\\n]*\\((load [^)]*)\\)`).exec(
        system.delta?.output() ?? '',
      );
      rows.push([
        round,
        fmt(imported.importMs),
        fmt(latency),
        split?.[1] ?? '?',
        report.closed_ports_count,
        report.new_ports_count,
      ]);
    }
    const med = median(latencies);
    const markdown = [
      `### delta-latency: a /16 run complete → its report readable over the API (${options.database})`,
      '',
      `${options.hosts} hosts, one open port each (${sizeMiB} MiB of XML), 1 % changed between runs; the run is an import (see docs/performance.md).`,
      '',
      markdownTable(
        [
          'run',
          'import (ms)',
          'complete → report readable (ms)',
          'in the delta service',
          'closed ports',
          'new ports',
        ],
        rows,
      ),
      '',
      `Median complete → readable: ${fmt(med)} ms (target ≤ 2000 ms).`,
    ].join('\n');
    return { markdown, met: med <= 2000, summary: `${fmt(med)} ms median` };
  } finally {
    await system.close();
  }
}

export interface DeltaScanOptions {
  runs: number;
  database: DatabaseKind;
}

/**
 * A scanned /16: `-sT -Pn -n -p <P> --max-retries 0 --min-rate 5000` over 127.1.0.0/16 (chunk_size 4096, 2
 * workers), with listeners on port P at 127.1.0.1-5 or 127.1.0.11-15 in turn, so each run has 5 ports opened and
 * 5 closed against the one before. Times each run's scan, then from the run's end (its finished_at, written
 * when scan_complete is published) to the report readable over the API.
 */
export async function runDeltaScan(
  options: DeltaScanOptions,
): Promise<{ markdown: string; met: boolean; summary: string }> {
  const probe = await listenOn(assertLoopback('127.1.0.1'));
  const port = probe.port;
  await probe.close();
  let listeners: Listener[] = [];
  const closeListeners = onCleanup('listeners', () => Promise.all(listeners.map((l) => l.close())));
  const system = await startBenchSystem({
    workers: 2,
    workerConcurrency: 1,
    database: options.database,
    delta: true,
  });
  try {
    const created = await postJson(
      system.url,
      '/api/scans',
      {
        // Benchmarks time the scan and its report, not the rescan of its changes.
        verify_changes: false,
        name: 'delta scan',
        target: assertLoopback('127.1.0.0/16'),
        ports: String(port),
        scan_arguments: '-sT -Pn -n --max-retries 0 --min-rate 5000',
        chunk_size: 4096,
        concurrency: 2,
      },
      system.auth,
    );
    if (created.status !== 201)
      throw new Error(`POST /api/scans answered ${created.status}: ${JSON.stringify(created.body)}`);
    const scanId: number = created.body.scan.id;
    const rows: Array<Array<string | number>> = [];
    const latencies: number[] = [];
    for (let round = 0; round <= options.runs; round++) {
      await Promise.all(listeners.map((l) => l.close()));
      const first = round % 2 === 0 ? 1 : 11;
      listeners = await Promise.all(
        [0, 1, 2, 3, 4].map((i) => listenOn(assertLoopback(`127.1.0.${first + i}`), port)),
      );
      // Not a WebSocket: a /16 with -Pn prints a line per host, 65,536 `line` events a run, more than a test
      // client keeps up with. The run's end is its finished_at (this machine's clock, like nowMs()).
      const sentAt = nowMs();
      const executed = await fetch(`${system.url}/api/scans/${scanId}/execute`, { headers: system.auth });
      const body = (await executed.json()) as { result_id?: number };
      if (executed.status !== 200)
        throw new Error(`execute answered ${executed.status}: ${JSON.stringify(body)}`);
      const resultId = body.result_id!;
      process.stderr.write(`delta-scan: run ${round} (result ${resultId}) scanning\n`);
      let completeAt = 0;
      let readableAt = 0;
      let reportId = 0;
      const deadline = Date.now() + 600_000;
      while (!readableAt) {
        if (Date.now() > deadline) throw new Error('no completed run and report within 600 s');
        if (!completeAt) {
          const run = await getJson(system.url, `/api/results/${resultId}?per_page=1`, system.auth);
          if (run.result?.status === 'completed') completeAt = Date.parse(run.result.finished_at);
          else if (['failed', 'stopped'].includes(run.result?.status))
            throw new Error(`run ${run.result.status}`);
          if (completeAt && round === 0) break;
        } else {
          const list = await getJson(system.url, `/api/scan/${scanId}/reports?per_page=1`, system.auth);
          const top = list.reports?.[0];
          if (top && top.current_result_id === resultId) {
            readableAt = nowMs();
            reportId = top.id;
            break;
          }
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      if (round === 0) {
        rows.push([`${round} (baseline)`, fmt(completeAt - sentAt), '—', '—', '—']);
        continue;
      }
      const report = await getJson(system.url, `/api/report/${reportId}`, system.auth);
      const split = new RegExp(`report ${reportId}: [^\\n]*\\((load [^)]*)\\)`).exec(
        system.delta?.output() ?? '',
      );
      const latency = readableAt - completeAt;
      latencies.push(latency);
      rows.push([
        round,
        fmt(completeAt - sentAt),
        fmt(latency),
        split?.[1] ?? '?',
        `+${report.new_ports_count} −${report.closed_ports_count}`,
      ]);
    }
    const med = median(latencies);
    const markdown = [
      `### delta-scan: a scanned /16, scan_complete → report readable over the API (${options.database})`,
      '',
      `\`-sT -Pn -n -p ${port} --max-retries 0 --min-rate 5000\` over 127.1.0.0/16, chunk_size 4096 (16 batches), 2 workers; 5 listeners moved between runs.`,
      '',
      markdownTable(
        [
          'run',
          'execute → run completed (ms)',
          'run completed (finished_at) → report readable (ms)',
          'in the delta service',
          'ports',
        ],
        rows,
      ),
      '',
      `Median run completed → readable: ${fmt(med)} ms (target ≤ 2000 ms).`,
    ].join('\n');
    return { markdown, met: med <= 2000, summary: `${fmt(med)} ms median` };
  } finally {
    await system.close();
    await closeListeners();
  }
}
