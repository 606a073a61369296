// Benchmark `import` (issue 20 point 2): the nmap XML import through the API against Debian's ndiff reading the
// same file. Files: the `delta-diff` benchmark's /16 (65,536 hosts, 4 open ports with services each, about
// 59 MiB) and the `delta-latency` one (65,536 hosts, one open port each). Each file is streamed from disk to
// `POST /api/scans/{id}/results/import` of a gateway started from a build (this one, and with --baseline-dist
// another one side by side, e.g. the build before the change), timed to the 201, with the gateway's CPU time and
// its RSS sampled every 10 ms from /proc (peak minus before); `ndiff file file` on the same file under
// /usr/bin/time -v in the same run. Runs interleaved; SQLite unless --db postgres.
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DatabaseKind } from '../test/support/database';
import type { XmlHost } from '../test/support/nmap-xml';
import { NDIFF, pairHosts, writeXml } from './delta';
import {
  BenchSystem,
  cpuTimesOf,
  currentDistRoot,
  fmt,
  markdownTable,
  median,
  memoryOf,
  nowMs,
  onCleanup,
  postJson,
  setDistRoot,
  startBenchSystem,
  withTimeout,
} from './support';

export interface ImportOptions {
  runs: number;
  database: DatabaseKind;
  /** Another build to run side by side (e.g. a copy of dist/ from before the change). */
  baselineDist?: string;
}
export const IMPORT_DEFAULTS = { runs: 3 };

const TIME = '/usr/bin/time';
const HOSTS = 65_536;
const TARGET_S = 3;
const TARGET_RSS_MIB = 200;

/** The delta-latency benchmark's hosts: one open port (8080) a host over 127.1.0.0/16. */
function* onePortHosts(count: number): Generator<XmlHost> {
  for (let i = 0; i < count; i++) {
    yield {
      address: `127.1.${i >> 8}.${i & 255}`,
      state: 'up',
      ports: [{ protocol: 'tcp', port: 8080, state: 'open' }],
    };
  }
}

interface ImportRun {
  status: number;
  wallMs: number;
  cpuMs: number;
  rssGrowthMiB: number;
  error?: string;
}

/** Streams `file` to the import route of `system`, sampling the gateway's RSS and CPU time. */
async function importFile(system: BenchSystem, scanId: number, file: string): Promise<ImportRun> {
  const pid = system.gateway.child.pid as number;
  const before = memoryOf(pid).rssMiB;
  const cpuBefore = cpuTimesOf(pid).selfMs;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, memoryOf(pid).rssMiB)), 10);
  const started = nowMs();
  try {
    const url = new URL(`/api/scans/${scanId}/results/import`, system.url);
    const answer = await withTimeout(
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          url,
          {
            method: 'POST',
            headers: {
              ...system.auth,
              'content-type': 'application/xml',
              'content-length': String(statSync(file).size),
            },
          },
          (res) => {
            const parts: Buffer[] = [];
            res.on('data', (part: Buffer) => parts.push(part));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), req).catch(reject);
      }),
      300_000,
      'import',
    );
    const wallMs = nowMs() - started;
    peak = Math.max(peak, memoryOf(pid).rssMiB);
    const cpuMs = cpuTimesOf(pid).selfMs - cpuBefore;
    const run = { status: answer.status, wallMs, cpuMs, rssGrowthMiB: peak - before };
    if (answer.status === 201) {
      const summary = JSON.parse(answer.body).summary as { hosts: number };
      if (summary.hosts !== HOSTS) throw new Error(`import stored ${summary.hosts} hosts, not ${HOSTS}`);
      return run;
    }
    return { ...run, error: answer.body.slice(0, 200) };
  } finally {
    clearInterval(sampler);
  }
}

interface NdiffRun {
  wallMs: number;
  cpuMs: number;
  peakMiB: number;
}

/** `ndiff file file` under /usr/bin/time -v: wall, CPU (user + system) and peak RSS. */
function ndiff(file: string): Promise<NdiffRun> {
  const started = nowMs();
  return withTimeout(
    new Promise<NdiffRun>((resolve, reject) => {
      execFile(TIME, ['-v', NDIFF, file, file], { maxBuffer: 64 * 1024 * 1024 }, (error, _out, stderr) => {
        const code = (error as { code?: number } | null)?.code;
        if (error && code !== 1) return reject(new Error(`ndiff failed: ${stderr.slice(-2000)}`));
        const field = (name: string) => Number(new RegExp(`${name}: ([\\d.]+)`).exec(stderr)?.[1]);
        resolve({
          wallMs: nowMs() - started,
          cpuMs: (field('User time \\(seconds\\)') + field('System time \\(seconds\\)')) * 1000,
          peakMiB: field('Maximum resident set size \\(kbytes\\)') / 1024,
        });
      });
    }),
    600_000,
    'ndiff',
  );
}

/** A gateway of the build at `dist` (no worker: an import needs none) and a scan over 127.1.0.0/16. */
async function startGateway(dist: string, database: DatabaseKind) {
  const previous = currentDistRoot();
  setDistRoot(dist);
  try {
    const system = await startBenchSystem({ workers: 0, workerConcurrency: 1, database });
    const created = await postJson(
      system.url,
      '/api/scans',
      { name: 'import', target: '127.1.0.0/16', ports: '22,80,443,8080', scan_arguments: '-sT -Pn -n' },
      system.auth,
    );
    if (created.status !== 201) throw new Error(`POST /api/scans answered ${created.status}`);
    return { system, scanId: created.body.scan.id as number };
  } finally {
    setDistRoot(previous);
  }
}

/** Runs the benchmark; `met` when this build imports the delta-diff file within both targets. */
export async function runImport(
  options: ImportOptions,
): Promise<{ markdown: string; met: boolean; summary: string }> {
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing (Debian package "time")`);
  const haveNdiff = existsSync(NDIFF);
  const dir = await mkdtemp(join(tmpdir(), 'nsobench-import-'));
  const removeDir = onCleanup('import files', () => rm(dir, { recursive: true, force: true }));
  const builds = [{ name: 'this build', dist: currentDistRoot() }];
  if (options.baselineDist)
    builds.push({ name: `baseline (${options.baselineDist})`, dist: options.baselineDist });
  const gateways: Array<Awaited<ReturnType<typeof startGateway>>> = [];
  try {
    const args = 'nmap -sT -Pn -n -p22,80,443,8080 -oX - 127.1.0.0/16';
    const files = [
      { name: 'delta-diff /16: 4 open ports with services a host', path: join(dir, 'four.xml') },
      { name: 'delta-latency /16: 1 open port a host', path: join(dir, 'one.xml') },
    ];
    process.stderr.write('import: writing the files\n');
    await writeXml(files[0].path, pairHosts(HOSTS, false), args);
    await writeXml(files[1].path, onePortHosts(HOSTS), 'nmap -sT -Pn -n -p 8080 -oX - 127.1.0.0/16');
    for (const build of builds) gateways.push(await startGateway(build.dist, options.database));
    const imports = new Map<string, ImportRun[]>();
    const ndiffs = new Map<string, NdiffRun[]>();
    for (let r = 0; r < options.runs; r++) {
      for (const file of files) {
        for (let k = 0; k < builds.length; k++) {
          const b = (r + k) % builds.length;
          process.stderr.write(`import: run ${r + 1}/${options.runs}, ${builds[b].name}, ${file.name}\n`);
          const run = await importFile(gateways[b].system, gateways[b].scanId, file.path);
          const key = `${b}|${file.path}`;
          imports.set(key, [...(imports.get(key) ?? []), run]);
        }
        if (haveNdiff) {
          process.stderr.write(`import: run ${r + 1}/${options.runs}, ndiff, ${file.name}\n`);
          ndiffs.set(file.path, [...(ndiffs.get(file.path) ?? []), await ndiff(file.path)]);
        }
      }
    }
    const s = (ms: number) => fmt(ms / 1000, 2);
    const rows: Array<Array<string | number>> = [];
    for (const file of files) {
      const sizeMiB = statSync(file.path).size / 1024 / 1024;
      for (let b = 0; b < builds.length; b++) {
        const runs = imports.get(`${b}|${file.path}`) ?? [];
        const ok = runs.filter((run) => run.status === 201);
        rows.push([
          `${file.name} (${fmt(sizeMiB, 1)} MiB)`,
          `import, ${builds[b].name}`,
          ok.length === runs.length
            ? runs.map((run) => s(run.wallMs)).join(', ')
            : `answered ${runs.map((run) => run.status).join(', ')}: ${runs.find((run) => run.error)?.error ?? ''}`,
          ok.length ? s(median(ok.map((run) => run.wallMs))) : '—',
          ok.length ? s(median(ok.map((run) => run.cpuMs))) : '—',
          // Each run's too: the first in a fresh gateway grows its heaps, the later ones reuse them.
          ok.length
            ? `${fmt(median(ok.map((run) => run.rssGrowthMiB)), 0)} (${ok.map((run) => fmt(run.rssGrowthMiB, 0)).join(', ')})`
            : '—',
        ]);
      }
      const theirs = ndiffs.get(file.path);
      rows.push(
        theirs
          ? [
              `${file.name} (${fmt(sizeMiB, 1)} MiB)`,
              '`ndiff file file` (Debian)',
              theirs.map((run) => s(run.wallMs)).join(', '),
              s(median(theirs.map((run) => run.wallMs))),
              s(median(theirs.map((run) => run.cpuMs))),
              `${fmt(median(theirs.map((run) => run.peakMiB)), 0)} (peak RSS)`,
            ]
          : [file.name, 'ndiff', `not run: ${NDIFF} is missing (npm run bench installs it)`, '', '', ''],
      );
    }
    const ours = imports.get(`0|${files[0].path}`) ?? [];
    const wall = median(ours.map((run) => run.wallMs));
    const cpu = median(ours.map((run) => run.cpuMs));
    const rss = median(ours.map((run) => run.rssGrowthMiB));
    const met = ours.every((run) => run.status === 201) && wall <= TARGET_S * 1000 && rss <= TARGET_RSS_MIB;
    const markdown = [
      `### import: a /16 nmap XML file through \`POST /api/scans/{id}/results/import\`, against ndiff`,
      '',
      `${options.runs} runs of each, interleaved; ${options.database}; each build's gateway started once (no ` +
        'worker), the file streamed from disk. Wall: request sent → 201. Gateway CPU: user + system time of the ' +
        'gateway process over the import (steadier than wall time on a busy machine). RSS growth: the ' +
        "gateway's highest VmRSS while importing (sampled every 10 ms) minus its VmRSS before.",
      '',
      markdownTable(
        ['file', 'path', 'runs (s)', 'median wall s', 'median CPU s', 'RSS growth MiB (runs)'],
        rows,
      ),
      '',
      `Target (issue 20): the delta-diff file imported in ≤ ${TARGET_S} s with the gateway's RSS growth ≤ ` +
        `${TARGET_RSS_MIB} MiB: ${met ? 'met' : 'not met'} (median ${s(wall)} s wall, ${s(cpu)} s CPU, ` +
        `${fmt(rss, 0)} MiB).`,
    ].join('\n');
    return {
      markdown,
      met,
      summary: `import of the delta-diff /16: ${s(wall)} s wall, ${s(cpu)} s CPU, RSS +${fmt(rss, 0)} MiB`,
    };
  } finally {
    for (const gateway of gateways) await gateway.system.close();
    await removeDir();
  }
}
