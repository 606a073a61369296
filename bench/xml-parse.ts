// Benchmark `xml-parse` (issue 20 point 2): one nmap XML file of a /16 (65,536 hosts, 4 open ports each: the
// `delta-diff` benchmark's baseline file, about 59 MiB) read by the build's parsers, each in a fresh process under
// /usr/bin/time -v: xml2js (the parser before issue 20), the streaming parser over the whole string (parseNmapXml,
// every host kept) and over a file stream (each host dropped once handed over). Runs interleaved.
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pairHosts, writeXml } from './delta';
import { fmt, markdownTable, median, nowMs, onCleanup, withTimeout } from './support';

export interface XmlParseOptions {
  hosts: number;
  runs: number;
  distRoot: string;
}
export const XML_PARSE_DEFAULTS = { hosts: 65_536, runs: 3 };

const TIME = '/usr/bin/time';
const MODES = [
  ['xml2js', 'xml2js, whole document (`parseNmapXmlWithXml2js`, the parser before issue 20)'],
  ['string', 'streaming parser over the string, every host kept (`parseNmapXml`)'],
  ['stream', 'streaming parser over a file stream, hosts dropped (`parseNmapXmlStream`)'],
] as const;

interface ChildRun {
  wallMs: number;
  /** User + system CPU seconds of the whole process (from time -v): steadier than wall time on a busy machine. */
  cpuS: number;
  peakMiB: number;
  parseMs: number;
  hosts: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
}

function runChild(distRoot: string, file: string, mode: string): Promise<ChildRun> {
  const started = nowMs();
  return withTimeout(
    new Promise<ChildRun>((resolve, reject) => {
      execFile(
        TIME,
        ['-v', process.execPath, join(__dirname, 'xml-parse-child.js'), distRoot, file, mode],
        { maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error) return reject(new Error(`xml-parse ${mode} failed: ${stderr.slice(-2000)}`));
          const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
          const cpu = (name: string) =>
            Number(new RegExp(`${name} time \\(seconds\\): ([\\d.]+)`).exec(stderr)?.[1]);
          const line = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
          resolve({
            wallMs: nowMs() - started,
            cpuS: cpu('User') + cpu('System'),
            peakMiB: kb ? Number(kb[1]) / 1024 : NaN,
            ...line,
          });
        },
      );
    }),
    600_000,
    `xml-parse ${mode}`,
  );
}

/** Runs the benchmark; `summary` names the three parse times. */
export async function runXmlParse(options: XmlParseOptions): Promise<{ markdown: string; summary: string }> {
  if (!existsSync(TIME))
    throw new Error(`${TIME} is missing (Debian package "time"): it measures peak memory`);
  const dir = await mkdtemp(join(tmpdir(), 'nsobench-xml-'));
  const removeDir = onCleanup('xml-parse file', () => rm(dir, { recursive: true, force: true }));
  try {
    const file = join(dir, 'run.xml');
    process.stderr.write(`xml-parse: writing a ${options.hosts}-host nmap XML file\n`);
    await writeXml(
      file,
      pairHosts(options.hosts, false),
      'nmap -sT -Pn -n -p22,80,443,8080 -oX - 127.1.0.0/16',
    );
    const sizeMiB = statSync(file).size / 1024 / 1024;
    const runs = new Map<string, ChildRun[]>(MODES.map(([mode]) => [mode, []]));
    for (let r = 0; r < options.runs; r++) {
      for (let k = 0; k < MODES.length; k++) {
        const [mode] = MODES[(r + k) % MODES.length];
        process.stderr.write(`xml-parse: run ${r + 1}/${options.runs}: ${mode}\n`);
        const run = await runChild(options.distRoot, file, mode);
        if (run.hosts !== options.hosts)
          throw new Error(`${mode}: ${run.hosts} hosts, expected ${options.hosts}`);
        runs.get(mode)!.push(run);
      }
    }
    const s = (ms: number) => fmt(ms / 1000, 2);
    const m = (mode: string, f: (r: ChildRun) => number) => median(runs.get(mode)!.map(f));
    const rows = MODES.map(([mode, label]) => [
      label,
      runs
        .get(mode)!
        .map((r) => s(r.parseMs))
        .join(', '),
      s(m(mode, (r) => r.parseMs)),
      fmt(
        m(mode, (r) => r.rssPeakMiB - r.rssBeforeMiB),
        0,
      ),
      fmt(
        m(mode, (r) => r.peakMiB),
        0,
      ),
      s(m(mode, (r) => r.wallMs)),
      fmt(
        m(mode, (r) => r.cpuS),
        2,
      ),
    ]);
    const markdown = [
      `### xml-parse: a ${options.hosts}-host nmap XML file (${fmt(sizeMiB, 1)} MiB), old parser against new`,
      '',
      `Each parse in its own \`node\` process under \`/usr/bin/time -v\`, ${options.runs} runs each, interleaved. ` +
        'RSS growth: highest RSS while parsing (sampled every 10 ms) minus RSS before the file is read (the file ' +
        'read as one string is part of it for the first two).',
      '',
      markdownTable(
        [
          'parser',
          'parse runs (s)',
          'median parse s',
          'RSS growth MiB',
          'peak RSS MiB (time -v)',
          'process wall s',
          'process CPU s (user + system)',
        ],
        rows,
      ),
    ].join('\n');
    const summary = MODES.map(([mode]) => `${mode} ${s(m(mode, (r) => r.parseMs))} s`).join(', ');
    return { markdown, summary };
  } finally {
    await removeDir();
  }
}
