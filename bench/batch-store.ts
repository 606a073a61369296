// Benchmark `batch-store` (issue 20 point 2, storage half): a 4,096-host batch parsed from nmap XML the way a
// worker parses it (NmapXmlCollector fed as nmap writes) and stored through BatchRepository.storeResult, on SQLite
// and PostgreSQL, for two shapes of batch: the wide scan's (`-Pn -p 1`: every host up, its one port closed) and a
// few open ports per host (3 open with service versions, 997 closed ports left unlisted as nmap's <extraports>).
// Each build runs in child processes (bench/batch-store-child.js) on a database of its own; with --baseline-dist the
// baseline build runs too, its children interleaved with the build's, so before and after share the machine.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testDatabaseParams, type DatabaseKind, type TestDatabaseParams } from '../test/support/database';
import { assertLoopback, fmt, markdownTable, median, onCleanup, withTimeout } from './support';

export interface BatchStoreOptions {
  /** Hosts of each batch. */
  hosts: number;
  /** Measured stores of each shape, build and database (split over two children of each build). */
  runs: number;
  databases: DatabaseKind[];
  distRoot: string;
  /** The build to compare with (before), if any. */
  baseDistRoot?: string;
}
export const BATCH_STORE_DEFAULTS = { hosts: 4096, runs: 6 };
/** The target: a 4,096-host batch parsed and stored in at most this long. */
const TARGET_MS = 150;

const SHAPES = [
  ['wide', 'wide scan: up (`-Pn`), 1 port, closed'],
  ['open', '3 open ports (service versions), 997 closed unlisted'],
] as const;
type Shape = (typeof SHAPES)[number][0];

interface StoreRun {
  shape: Shape;
  parseMs: number;
  parseCpuMs: number;
  storeMs: number;
  storeCpuMs: number;
  /** CPU time of the PostgreSQL server process of the store's connection (0 on SQLite: it is in storeCpuMs). */
  serverCpuMs: number;
  hosts: number;
  hostRows: number;
  portRows: number;
}

const start = 1796611800;

/** The i-th address of 127.3.0.0/16. */
const address = (i: number) => assertLoopback(`127.3.${(i >> 8) & 255}.${i & 255}`);

/** One nmap XML document of `hosts` hosts of the shape, written like nmap 7.93's `-oX`. */
export function batchXml(shape: Shape, hosts: number): string {
  const args =
    shape === 'wide'
      ? 'nmap -sT -Pn -n --max-retries 0 --min-rate 5000 -p 1 -oX - 127.3.0.0/20'
      : 'nmap -sT -Pn -n -sV -oX - 127.3.0.0/20';
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE nmaprun>',
    `<nmaprun scanner="nmap" args="${args}" start="${start}" startstr="Mon Dec  7 02:50:00 2026" version="7.93" xmloutputversion="1.05">`,
    '<verbose level="0"/>',
    '<debugging level="0"/>',
  ];
  for (let i = 0; i < hosts; i++) {
    out.push(
      `<host starttime="${start}" endtime="${start + 1}"><status state="up" reason="user-set" reason_ttl="0"/>`,
      `<address addr="${address(i)}" addrtype="ipv4"/>`,
      '<hostnames>\n</hostnames>',
    );
    if (shape === 'wide') {
      out.push(
        '<ports><port protocol="tcp" portid="1"><state state="closed" reason="conn-refused" reason_ttl="0"/><service name="tcpmux" method="table" conf="3"/></port>',
        '</ports>',
      );
    } else {
      out.push(
        '<ports><extraports state="closed" count="997">',
        '<extrareasons reason="conn-refused" count="997" proto="tcp" ports="1-21,23-79,81-442,444-1000"/>',
        '</extraports>',
        '<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="0"/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2+deb12u3" extrainfo="protocol 2.0" ostype="Linux" method="probed" conf="10"><cpe>cpe:/a:openbsd:openssh:9.2p1</cpe><cpe>cpe:/o:linux:linux_kernel</cpe></service></port>',
        '<port protocol="tcp" portid="80"><state state="open" reason="syn-ack" reason_ttl="0"/><service name="http" product="nginx" version="1.22.1" method="probed" conf="10"><cpe>cpe:/a:igor_sysoev:nginx:1.22.1</cpe></service></port>',
        '<port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="0"/><service name="http" product="nginx" version="1.22.1" tunnel="ssl" method="probed" conf="10"><cpe>cpe:/a:igor_sysoev:nginx:1.22.1</cpe></service></port>',
        '</ports>',
      );
    }
    out.push('<times srtt="111" rttvar="5000" to="100000"/>', '</host>');
  }
  out.push(
    `<runstats><finished time="${start + 2}" timestr="Mon Dec  7 02:50:02 2026" summary="Nmap done" elapsed="2.00" exit="success"/><hosts up="${hosts}" down="0" total="${hosts}"/>`,
    '</runstats>',
    '</nmaprun>',
  );
  return out.join('\n') + '\n';
}

function runChild(
  distRoot: string,
  database: TestDatabaseParams,
  files: Array<{ shape: Shape; path: string; hosts: number }>,
  runs: number,
  warmup: number,
): Promise<StoreRun[]> {
  const request = { databaseUrl: database.databaseUrl, schema: database.schema, files, runs, warmup };
  return withTimeout(
    new Promise<StoreRun[]>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--expose-gc', join(__dirname, 'batch-store-child.js'), distRoot, JSON.stringify(request)],
        {
          maxBuffer: 16 * 1024 * 1024,
          env: { ...process.env, NODE_PATH: join(__dirname, '..', 'node_modules') },
        },
        (error, stdout, stderr) => {
          if (error) return reject(new Error(`batch-store child failed: ${stderr.slice(-3000)}`));
          resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '{}').runs);
        },
      );
    }),
    600_000,
    'batch-store child',
  );
}

/** Runs the benchmark; `summary` gives parse + store of each shape on each database for the build. */
export async function runBatchStore(
  options: BatchStoreOptions,
): Promise<{ markdown: string; summary: string; met: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), 'nsobench-store-'));
  const cleanups = [onCleanup('batch-store files', () => rm(dir, { recursive: true, force: true }))];
  const builds = [
    ...(options.baseDistRoot ? [{ name: 'before', root: options.baseDistRoot }] : []),
    { name: options.baseDistRoot ? 'after' : 'this build', root: options.distRoot },
  ];
  const results = new Map<string, StoreRun[]>();
  const key = (db: DatabaseKind, build: string, shape: Shape) => `${db}/${build}/${shape}`;
  try {
    const files = SHAPES.map(([shape]) => {
      const path = join(dir, `${shape}.xml`);
      writeFileSync(path, batchXml(shape, options.hosts));
      return { shape, path, hosts: options.hosts };
    });
    const perChild = Math.max(1, Math.ceil(options.runs / 2));
    for (const db of options.databases) {
      for (const build of builds) {
        const database = await testDatabaseParams(db);
        cleanups.push(onCleanup(`batch-store ${db} database`, () => database.cleanup()));
        (build as { database?: TestDatabaseParams }).database = database;
      }
      // Two children of each build, interleaved (A B B A): each warms up once, then stores `perChild` of each shape.
      const order = [...builds, ...[...builds].reverse()];
      for (const [i, build] of order.entries()) {
        process.stderr.write(`batch-store: ${db}, ${build.name} (${i + 1}/${order.length})\n`);
        const database = (build as { database?: TestDatabaseParams }).database!;
        for (const run of await runChild(build.root, database, files, perChild, 1)) {
          if (run.hosts !== options.hosts || run.hostRows !== options.hosts)
            throw new Error(
              `${build.name} ${run.shape}: ${run.hostRows} host rows of ${options.hosts} hosts`,
            );
          const k = key(db, build.name, run.shape);
          results.set(k, [...(results.get(k) ?? []), run]);
        }
      }
    }
    const m = (runs: StoreRun[], f: (r: StoreRun) => number) => median(runs.map(f));
    const rows: string[][] = [];
    const summary: string[] = [];
    let met = true;
    const last = builds[builds.length - 1].name;
    for (const db of options.databases) {
      for (const [shape, label] of SHAPES) {
        for (const build of builds) {
          const runs = results.get(key(db, build.name, shape)) ?? [];
          const total = m(runs, (r) => r.parseMs + r.storeMs);
          const cpu = m(runs, (r) => r.parseCpuMs + r.storeCpuMs + r.serverCpuMs);
          if (build.name === last) {
            met &&= total <= TARGET_MS;
            summary.push(`${db} ${shape} ${fmt(total, 0)} ms (CPU ${fmt(cpu, 0)} ms)`);
          }
          const perHost = (f: (r: StoreRun) => number) => fmt(m(runs, (r) => (f(r) * 1000) / r.hosts));
          rows.push([
            db,
            label,
            build.name,
            String(runs.length),
            fmt(m(runs, (r) => r.parseMs)),
            fmt(m(runs, (r) => r.storeMs)),
            `**${fmt(total)}**`,
            `**${fmt(cpu)}**`,
            perHost((r) => r.parseCpuMs),
            perHost((r) => r.storeCpuMs),
            db === 'postgresql' ? perHost((r) => r.serverCpuMs) : '—',
            `${runs[0]?.hostRows ?? 0} / ${runs[0]?.portRows ?? 0}`,
          ]);
        }
      }
    }
    const markdown = [
      `### batch-store: a ${options.hosts}-host batch parsed and stored (BatchRepository.storeResult)`,
      '',
      'Each store is a new run with one batch (every row inserted). Parse: `NmapXmlCollector` fed 64 KiB at a ' +
        'time, as a worker parses while nmap writes. Store: `storeResult` wall time, and the CPU time of the ' +
        'node process meanwhile (SQLite runs inside it) and, on PostgreSQL, of the server process of the ' +
        "store's connection (from /proc; 10 ms ticks). On a busy machine the CPU figures are the steadier ones. " +
        `Medians of ${perChild * 2} runs of each (two child processes per build, interleaved, one warm-up each).` +
        (options.baseDistRoot ? ` Before: \`${options.baseDistRoot}\`; after: \`${options.distRoot}\`.` : ''),
      '',
      markdownTable(
        [
          'database',
          'batch',
          'build',
          'runs',
          'parse ms',
          'store ms',
          'parse + store ms',
          'CPU ms (parse + store + server)',
          'parse CPU µs/host',
          'store CPU µs/host (node)',
          'store CPU µs/host (PostgreSQL server)',
          'rows: hosts / ports',
        ],
        rows,
      ),
      '',
      `Target: parse + store ≤ ${TARGET_MS} ms on each database → **${met ? 'met' : 'MISSED'}** (${summary.join(', ')}).`,
    ].join('\n');
    return { markdown, summary: summary.join(', '), met };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}
