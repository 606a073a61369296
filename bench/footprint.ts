// Benchmark `footprint` (issue 20 point 6): what one scanned host costs, the figures behind docs/performance.md's
// sizing of internet-scale scans. A sparse scan (`-sT -Pn -n --max-retries 0 --min-rate 5000 -p P` over a loopback
// /18: every address answers, one port each) and a dense one (the same flags with ports 1-1000 over a /23) run
// through the API on `npm start`'s setup (one gateway, one worker of WORKER_CONCURRENCY 2), side by side, and per
// host the benchmark reports: CPU of nmap, the worker and the gateway; Redis memory at its peak during the run and
// what the run leaves behind; database rows and bytes the run added (table by table); bytes of nmap's stdout and
// XML. Nothing is extrapolated here: docs/performance.md does that from this table.
import { statSync } from 'node:fs';
import Redis from 'ioredis';
import type { DatabaseKind } from '../test/support/database';
import { Listener, listenOn } from '../test/support/listeners';
import {
  assertLoopback,
  BenchSystem,
  cpuTimesOf,
  fmt,
  getJson,
  markdownTable,
  nowMs,
  onCleanup,
  postJson,
  REDIS_URL,
  runNmapDirect,
  sleep,
  startBenchSystem,
} from './support';
import { NO_RATE_LIMIT } from './wide';

export interface FootprintOptions {
  database: DatabaseKind;
}

const FLAGS = ['-sT', '-Pn', '-n', '--max-retries', '0', '--min-rate', '5000'];
const RUN_TIMEOUT_MS = 900_000;
const POLL_MS = 250;

interface FootprintScan {
  name: string;
  target: string;
  ports: (listenerPort: number) => string;
  chunkSize: number;
  hosts: number;
}

const SCANS: FootprintScan[] = [
  {
    name: 'sparse: /18 × 1 port',
    target: '127.3.0.0/18',
    ports: (p) => String(p),
    chunkSize: 4096,
    hosts: 16_384,
  },
  {
    name: 'dense: /23 × 1,000 ports',
    target: '127.3.64.0/23',
    ports: () => '1-1000',
    chunkSize: 256,
    hosts: 512,
  },
];

interface Measured {
  scan: FootprintScan;
  wallMs: number;
  nmapCpuMs: number;
  workerCpuMs: number;
  gatewayCpuMs: number;
  redisPeakBytes: number;
  redisLeftBytes: number;
  tables: Map<string, { rows: number; bytes: number }>;
  stdoutBytes: number;
  xmlBytes: number;
}

/** Runs both scans on a fresh system each and prints the per-host table. */
export async function runFootprint(options: FootprintOptions): Promise<string> {
  const probe = await listenOn(assertLoopback('127.3.0.1'));
  const port = probe.port;
  await probe.close();
  // Open ports on a few addresses of each scan (the dense one gets its open port inside 1-1000 too).
  const open = ['127.3.0.10', '127.3.40.77', '127.3.64.5'].map(assertLoopback);
  const listeners: Listener[] = [
    ...(await Promise.all(open.map((a) => listenOn(a, port)))),
    // Port 999 needs root; elsewhere the dense scan simply finds nothing open.
    ...(await listenOn(assertLoopback('127.3.65.9'), 999).then(
      (l) => [l],
      () => [],
    )),
  ];
  const closeListeners = onCleanup('footprint listeners', () => Promise.all(listeners.map((l) => l.close())));
  const results: Measured[] = [];
  try {
    for (const scan of SCANS) {
      assertLoopback(scan.target);
      results.push(await measure(scan, port, options.database));
    }
  } finally {
    await closeListeners();
  }
  return report(results, options.database);
}

async function measure(scan: FootprintScan, port: number, database: DatabaseKind): Promise<Measured> {
  const system = await startBenchSystem({
    workers: 1,
    workerConcurrency: 2,
    database,
    env: NO_RATE_LIMIT,
  });
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const ports = scan.ports(port);
    const created = await postJson(
      system.url,
      '/api/scans',
      {
        // Benchmarks time the scan and its report, not the rescan of its changes.
        verify_changes: false,
        name: `footprint ${scan.name}`,
        target: scan.target,
        ports,
        scan_arguments: FLAGS.join(' '),
        chunk_size: scan.chunkSize,
        concurrency: 2,
      },
      system.auth,
    );
    if (created.status !== 201)
      throw new Error(`POST /api/scans answered ${created.status}: ${JSON.stringify(created.body)}`);
    const scanId: number = created.body.scan.id;
    const tablesBefore = await tableSizes(system);
    const redisBefore = await keyBytes(redis, system.prefix);
    const worker = system.workers[0].child.pid!;
    const gateway = system.gateway.child.pid!;
    const workerBefore = cpuTimesOf(worker);
    const gatewayBefore = cpuTimesOf(gateway);

    let redisPeak = redisBefore;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        redisPeak = Math.max(redisPeak, await keyBytes(redis, system.prefix));
        await sleep(200);
      }
    })();
    const sentAt = nowMs();
    const executed = await fetch(`${system.url}/api/scans/${scanId}/execute`, { headers: system.auth });
    const body = (await executed.json()) as { result_id?: number };
    if (executed.status !== 200)
      throw new Error(`execute answered ${executed.status}: ${JSON.stringify(body)}`);
    const resultId = body.result_id!;
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    let finishedAt = 0;
    for (;;) {
      const run = await getJson(system.url, `/api/results/${resultId}?per_page=1`, system.auth);
      const status = run.result?.status;
      if (status === 'completed') {
        if (run.summary?.hosts_up !== scan.hosts)
          throw new Error(`run ${resultId}: ${run.summary?.hosts_up} hosts up, expected ${scan.hosts}`);
        finishedAt = Date.parse(run.result.finished_at);
        break;
      }
      if (['failed', 'stopped'].includes(status)) throw new Error(`run ${resultId} ${status}`);
      if (Date.now() > deadline) throw new Error(`run ${resultId} not completed in time`);
      await sleep(POLL_MS);
    }
    // Let the run's last writes (finalizer, summaries) settle before reading CPU and sizes.
    await sleep(1000);
    sampling = false;
    await sampler;
    const workerAfter = cpuTimesOf(worker);
    const gatewayAfter = cpuTimesOf(gateway);
    const redisAfter = await keyBytes(redis, system.prefix);
    const tablesAfter = await tableSizes(system);
    const tables = new Map<string, { rows: number; bytes: number }>();
    for (const [name, after] of tablesAfter) {
      const before = tablesBefore.get(name) ?? { rows: 0, bytes: 0 };
      tables.set(name, { rows: after.rows - before.rows, bytes: after.bytes - before.bytes });
    }
    // The same nmap run directly, for the bytes of its two outputs (stdout as the line events carry it, -oX -).
    const direct = await runNmapDirect([...FLAGS, '-p', ports, scan.target], RUN_TIMEOUT_MS);
    const xml = await runNmapDirect([...FLAGS, '-p', ports, '-oX', '-', scan.target], RUN_TIMEOUT_MS);
    return {
      scan,
      wallMs: finishedAt - sentAt,
      nmapCpuMs: workerAfter.childrenMs - workerBefore.childrenMs,
      workerCpuMs: workerAfter.selfMs - workerBefore.selfMs,
      gatewayCpuMs: gatewayAfter.selfMs - gatewayBefore.selfMs,
      redisPeakBytes: redisPeak - redisBefore,
      redisLeftBytes: redisAfter - redisBefore,
      tables,
      stdoutBytes: Buffer.byteLength(direct.stdout),
      xmlBytes: Buffer.byteLength(xml.stdout),
    };
  } finally {
    redis.disconnect();
    await system.close();
  }
}

/** MEMORY USAGE summed over the system's keys (its REDIS_PREFIX). */
async function keyBytes(redis: Redis, prefix: string): Promise<number> {
  let total = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) total += Number((await redis.memory('USAGE', key)) ?? 0);
  } while (cursor !== '0');
  return total;
}

/** Rows and bytes (table, its indexes and TOAST) of the system's tables. */
async function tableSizes(system: BenchSystem): Promise<Map<string, { rows: number; bytes: number }>> {
  const sizes = new Map<string, { rows: number; bytes: number }>();
  const names = ['scan_results', 'batches', 'hosts', 'ports'];
  const { default: knex } = await import('knex');
  if (system.database.kind === 'postgresql') {
    const db = knex({ client: 'pg', connection: system.database.databaseUrl });
    try {
      const schema = system.database.schema!;
      for (const name of names) {
        const [{ n }] = await db.withSchema(schema).from(name).count({ n: '*' });
        const { rows } = await db.raw('select pg_total_relation_size(?)::bigint as b', [
          `"${schema}"."${name}"`,
        ]);
        sizes.set(name, { rows: Number(n), bytes: Number(rows[0].b) });
      }
    } finally {
      await db.destroy();
    }
    return sizes;
  }
  const file = system.database.databaseUrl.replace(/^sqlite:/, '');
  const db = knex({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
  try {
    // dbstat gives each table's and index's pages; without it, the file's size is charged to `hosts`.
    let pages: Map<string, number> | undefined;
    try {
      const rows: Array<{ t: string; b: number }> = await db.raw(
        'select m.tbl_name as t, sum(s.pgsize) as b from dbstat s join sqlite_master m on m.name = s.name group by m.tbl_name',
      );
      pages = new Map(rows.map((r) => [r.t, r.b]));
    } catch {
      pages = undefined;
    }
    for (const name of names) {
      const [{ n }] = await db.from(name).count({ n: '*' });
      const bytes = pages ? (pages.get(name) ?? 0) : name === 'hosts' ? statSync(file).size : 0;
      sizes.set(name, { rows: Number(n), bytes });
    }
  } finally {
    await db.destroy();
  }
  return sizes;
}

function report(results: Measured[], database: DatabaseKind): string {
  const per = (value: number, m: Measured) => value / m.scan.hosts;
  const us = (ms: number, m: Measured) => fmt(per(ms, m) * 1000, 1);
  const bytes = (b: number, m: Measured) => fmt(per(b, m), 0);
  const header = ['per host', ...results.map((m) => `${m.scan.name} (${m.scan.hosts} hosts)`)];
  const tableNames = ['scan_results', 'batches', 'hosts', 'ports'];
  const rows: Array<Array<string | number>> = [
    ['wall time of the run (ms, whole run)', ...results.map((m) => fmt(m.wallMs, 0))],
    ['nmap CPU (µs)', ...results.map((m) => us(m.nmapCpuMs, m))],
    ['worker CPU (µs)', ...results.map((m) => us(m.workerCpuMs, m))],
    ['gateway CPU (µs)', ...results.map((m) => us(m.gatewayCpuMs, m))],
    ['nmap stdout (bytes; the `line` events carry it)', ...results.map((m) => bytes(m.stdoutBytes, m))],
    ['nmap XML (bytes; parsed as it streams, never stored)', ...results.map((m) => bytes(m.xmlBytes, m))],
    [
      "Redis: the system's keys at their peak during the run, over before (MEMORY USAGE, bytes)",
      ...results.map((m) => `${bytes(m.redisPeakBytes, m)} (${fmt(m.redisPeakBytes / 1024, 0)} KiB in all)`),
    ],
    [
      "Redis: the system's keys after the run, over before (bytes)",
      ...results.map((m) => `${bytes(m.redisLeftBytes, m)} (${fmt(m.redisLeftBytes / 1024, 0)} KiB in all)`),
    ],
    ...tableNames.map((name) => [
      `database: \`${name}\` rows / bytes`,
      ...results.map((m) => {
        const t = m.tables.get(name) ?? { rows: 0, bytes: 0 };
        return `${fmt(per(t.rows, m), 3)} / ${bytes(t.bytes, m)}`;
      }),
    ]),
  ];
  return [
    `### footprint: what one host costs (${database})`,
    '',
    `Flags \`${FLAGS.join(' ')}\` through the API on \`npm start\`'s setup (one gateway, one worker of ` +
      `WORKER_CONCURRENCY 2), scan concurrency 2; every address of 127.0.0.0/8 answers, so every host is up. ` +
      `CPU from /proc (nmap: the worker's reaped children); Redis: \`INFO memory\` sampled every 100 ms; ` +
      `database: rows and bytes the run added (PostgreSQL: \`pg_total_relation_size\`, with indexes; SQLite: dbstat ` +
      `pages of the table and its indexes). Stdout and XML bytes: the same nmap run directly.`,
    '',
    markdownTable(header, rows),
  ].join('\n');
}
