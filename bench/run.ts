// Entry point of the benchmarks:
//   npx ts-node -r tsconfig-paths/register --transpile-only bench/run.ts [overhead|scale|start|schedules|execute|all] [options]
// Needs `npm run build` first (the gateway and workers run from dist/), Redis, and nmap. See bench/README.md.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadavg } from 'node:os';
import type { DatabaseKind } from '../test/support/database';
import { EXECUTE_DEFAULTS, runExecute } from './execute';
import {
  DELTA_DIFF_DEFAULTS,
  DELTA_LATENCY_DEFAULTS,
  runDeltaDiff,
  runDeltaLatency,
  runDeltaScan,
} from './delta';
import { FANOUT_DEFAULTS, runFanout } from './fanout';
import { OVERHEAD_DEFAULTS, runOverhead } from './overhead';
import { PROFILE_DEFAULTS, runProfile, runScaleProfile, SCALE_PROFILE_DEFAULTS } from './profile';
import { PROGRESS_DEFAULTS, runProgress } from './progress';
import { runScale, SCALE_DEFAULTS } from './scale';
import { runSchedules, SCHEDULES_DEFAULTS } from './schedules';
import { CLIENTS_DEFAULTS, runAgentStore, runDelegate } from './clients';
import { runStart, START_DEFAULTS } from './start';
import { runWide, WIDE_DEFAULTS } from './wide';
import { runWideProfile, WIDE_PROFILE_DEFAULTS } from './profile-wide';
import { runWideSubscribers } from './wide-subscribers';
import { IMPORT_DEFAULTS, runImport } from './import';
import { runXmlParse, XML_PARSE_DEFAULTS } from './xml-parse';
import { BATCH_STORE_DEFAULTS, runBatchStore } from './batch-store';
import { runFootprint } from './footprint';
import {
  CpuWindow,
  currentDistRoot,
  describeDist,
  setDistRoot,
  installExitHandlers,
  machineDescription,
  runAllCleanups,
  waitForQuietMachine,
} from './support';

const USAGE = `usage: bench/run.ts [overhead|scale|start|schedules|execute|delegate|agent-store|all|profile|profile-scale|delta-diff|delta-latency|delta-scan|fanout|wide|wide-subscribers|profile-wide|xml-parse|batch-store|import|footprint|progress] [options]
  (all = overhead, scale, start, schedules, execute, delegate and agent-store; profile / profile-scale = the
  overhead / scale scan through instrumented gateway and workers, with a split of where the time goes;
  delegate / agent-store = the scanner clients' benchmarks of issue 10; delta-diff = a /16 pair diffed by us and
  by Debian's ndiff; delta-latency = an imported /16 run complete → its report readable over the API;
  delta-scan = the same for a scanned /16; fanout = scan events to WebSocket and SSE subscribers on 2 gateways,
  and idle /api/stream subscribers; wide, wide-subscribers, profile-wide, xml-parse, batch-store, import, footprint, progress:
  issue 20's, see bench/README.md — none of these is part of all)
  --db sqlite|postgres        database of the gateway and workers (default sqlite, a temp file)
  --runs N                    overhead: measured runs of each path (default ${OVERHEAD_DEFAULTS.runs});
                              profile: instrumented runs (default ${PROFILE_DEFAULTS.runs})
  --warmup N                  overhead: warm-up runs of each path (default ${OVERHEAD_DEFAULTS.warmup})
  --scale-runs N              scale: runs of each path (default ${SCALE_DEFAULTS.runs})
  --worker-concurrency N      scale: WORKER_CONCURRENCY of each of the 2 workers (default ${SCALE_DEFAULTS.workerConcurrency})
  --scan-concurrency N        scale: the scan's concurrency (default ${SCALE_DEFAULTS.scanConcurrency})
  --start-runs N              start: /8 starts measured (default ${START_DEFAULTS.runs})
  --schedule-fires N          schedules: fires to wait for over all scans (default ${SCHEDULES_DEFAULTS.fires})
  --schedule-scans N          schedules: scheduled scans, interval 1 (default ${SCHEDULES_DEFAULTS.scans})
  --schedule-minute-ms N      schedules: SCHEDULE_MINUTE_MS, one minute of interval_minutes (default ${SCHEDULES_DEFAULTS.minuteMs})
  --execute-runs N            execute: measured runs of each path (default ${EXECUTE_DEFAULTS.runs}; --warmup applies)
  --delta-hosts N             delta-diff, delta-latency: hosts of each run (default ${DELTA_DIFF_DEFAULTS.hosts}, at most 65536)
  --delta-runs N              delta-diff, delta-latency: measured runs (default ${DELTA_DIFF_DEFAULTS.runs})
  --cpu-prof DIR              profile, wide-subscribers: also write V8 CPU profiles of gateway and worker into DIR
  --wait-idle S               before each benchmark, wait up to S seconds for the machine to be < 30% busy
                              (default 0: start at once); the report says how busy it was either way
  --dist DIR                  run the gateway and workers of this build (default: dist/ of this repository)
  --fanout-ws N, --fanout-sse N  fanout: subscribers of the scan (default ${FANOUT_DEFAULTS.websockets}, ${FANOUT_DEFAULTS.sse})
  --fanout-lines N            fanout: lines streamed (default ${FANOUT_DEFAULTS.lines})
  --fanout-rate N             fanout: lines per second published (default ${FANOUT_DEFAULTS.linesPerSecond})
  --fanout-warmup-lines N     fanout: lines published first, latency reported apart (default ${FANOUT_DEFAULTS.warmupLines})
  --fanout-clients N          fanout: client threads holding the subscribers (default ${FANOUT_DEFAULTS.clientThreads})
  --fanout-ws-client raw|ws   fanout: the WebSocket client, a minimal frame reader or the ws library (default ${FANOUT_DEFAULTS.wsClient})
  --idle-streams N            fanout: idle /api/stream subscribers (default ${FANOUT_DEFAULTS.idleStreams})
  --idle-seconds N            fanout: how long their CPU is measured (default ${FANOUT_DEFAULTS.idleSeconds})
  --wide-runs N               wide, wide-subscribers: runs of each path over the /16 (default ${WIDE_DEFAULTS.runs})
  --wide-dense-runs N         wide: runs of each path over the /20 × 500 ports (default ${WIDE_DEFAULTS.denseRuns}; 0 leaves it out)
  --xml-hosts N               xml-parse: hosts in the file (default ${XML_PARSE_DEFAULTS.hosts})
  --xml-runs N                xml-parse: runs of each parser (default ${XML_PARSE_DEFAULTS.runs})
  --store-hosts N             batch-store: hosts of the batch (default ${BATCH_STORE_DEFAULTS.hosts})
  --store-runs N              batch-store: stores of each shape, build and database (default ${BATCH_STORE_DEFAULTS.runs})
  --import-runs N             import: runs of each import and of ndiff (default ${IMPORT_DEFAULTS.runs})
  --baseline-dist DIR         import, batch-store: also run this build's (e.g. a copy of an older dist/), side by side
  --progress-runs N           progress: runs of the scale scan whose ETA is checked (default ${PROGRESS_DEFAULTS.runs})
  --stats-every N             progress: NMAP_STATS_EVERY of the workers, seconds (default ${PROGRESS_DEFAULTS.statsEvery})
  --out FILE                  also write the markdown report to FILE`;

/** Wide scans and streaming XML (issue 20): not part of `all`. */
const ISSUE_20_BENCHMARKS = [
  'wide',
  'wide-subscribers',
  'profile-wide',
  'xml-parse',
  'batch-store',
  'import',
  'footprint',
  'progress',
];

function parseArgs(argv: string[]) {
  const which = new Set<string>();
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.startsWith('--')) {
      const [key, inline] = arg.slice(2).split('=', 2);
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${key} needs a value\n${USAGE}`);
      opts[key] = value;
    } else if (
      [
        'overhead',
        'scale',
        'start',
        'schedules',
        'execute',
        'delegate',
        'agent-store',
        'all',
        'profile',
        'profile-scale',
        'delta-diff',
        'delta-latency',
        'delta-scan',
        'fanout',
        ...ISSUE_20_BENCHMARKS,
      ].includes(arg)
    ) {
      which.add(arg);
    } else {
      throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (which.size === 0 || which.has('all'))
    ['overhead', 'scale', 'start', 'schedules', 'execute', 'delegate', 'agent-store'].forEach((w) =>
      which.add(w),
    );
  const known = [
    'db',
    'runs',
    'warmup',
    'scale-runs',
    'worker-concurrency',
    'scan-concurrency',
    'start-runs',
    'schedule-fires',
    'schedule-scans',
    'schedule-minute-ms',
    'execute-runs',
    'delta-hosts',
    'delta-runs',
    'out',
    'cpu-prof',
    'wait-idle',
    'dist',
    'fanout-ws',
    'fanout-sse',
    'fanout-lines',
    'fanout-rate',
    'fanout-clients',
    'fanout-warmup-lines',
    'fanout-ws-client',
    'idle-streams',
    'idle-seconds',
    ...[
      'wide-runs',
      'wide-dense-runs',
      'xml-hosts',
      'xml-runs',
      'store-hosts',
      'store-runs',
      'import-runs',
      'baseline-dist',
      'progress-runs',
      'stats-every',
    ],
  ];
  for (const key of Object.keys(opts))
    if (!known.includes(key)) throw new Error(`unknown option --${key}\n${USAGE}`);
  const int = (key: string, fallback: number, min: number, max: number) => {
    if (opts[key] === undefined) return fallback;
    const n = Number(opts[key]);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${key} must be an integer from ${min} to ${max}`);
    return n;
  };
  const db = (opts.db ?? 'sqlite').replace(/^postgres$/, 'postgresql');
  if (db !== 'sqlite' && db !== 'postgresql') throw new Error(`--db must be sqlite or postgres`);
  return {
    which,
    database: db as DatabaseKind,
    runs: opts.runs === undefined ? undefined : int('runs', 0, 1, 500),
    warmup: int('warmup', OVERHEAD_DEFAULTS.warmup, 0, 50),
    scaleRuns: int('scale-runs', SCALE_DEFAULTS.runs, 1, 20),
    workerConcurrency: int('worker-concurrency', SCALE_DEFAULTS.workerConcurrency, 1, 16),
    scanConcurrency: int('scan-concurrency', SCALE_DEFAULTS.scanConcurrency, 1, 64),
    startRuns: int('start-runs', START_DEFAULTS.runs, 1, 50),
    scheduleFires: int('schedule-fires', SCHEDULES_DEFAULTS.fires, 1, 10_000),
    scheduleScans: int('schedule-scans', SCHEDULES_DEFAULTS.scans, 1, 50),
    // 50 ms is the least SCHEDULE_MINUTE_MS the apps accept.
    scheduleMinuteMs: int('schedule-minute-ms', SCHEDULES_DEFAULTS.minuteMs, 50, 60_000),
    executeRuns: int('execute-runs', EXECUTE_DEFAULTS.runs, 1, 500),
    deltaHosts: int('delta-hosts', DELTA_DIFF_DEFAULTS.hosts, 1, 65_536),
    deltaRuns: int('delta-runs', DELTA_DIFF_DEFAULTS.runs, 1, 20),
    wideRuns: int('wide-runs', WIDE_DEFAULTS.runs, 1, 20),
    wideDenseRuns: int('wide-dense-runs', WIDE_DEFAULTS.denseRuns, 0, 20),
    xmlHosts: int('xml-hosts', XML_PARSE_DEFAULTS.hosts, 1, 1_048_576),
    xmlRuns: int('xml-runs', XML_PARSE_DEFAULTS.runs, 1, 20),
    storeHosts: int('store-hosts', BATCH_STORE_DEFAULTS.hosts, 1, 65_536),
    storeRuns: int('store-runs', BATCH_STORE_DEFAULTS.runs, 1, 50),
    importRuns: int('import-runs', IMPORT_DEFAULTS.runs, 1, 20),
    baselineDist: opts['baseline-dist'] === undefined ? undefined : resolve(opts['baseline-dist']),
    progressRuns: int('progress-runs', PROGRESS_DEFAULTS.runs, 1, 20),
    statsEvery: int('stats-every', PROGRESS_DEFAULTS.statsEvery, 1, 60),
    out: opts.out,
    cpuProf: opts['cpu-prof'],
    dist: opts.dist,
    scaleRunsGiven: opts['scale-runs'] !== undefined,
    waitIdle: int('wait-idle', 0, 0, 3600),
    databaseGiven: opts.db !== undefined,
    fanout: {
      websockets: int('fanout-ws', FANOUT_DEFAULTS.websockets, 0, 5000),
      sse: int('fanout-sse', FANOUT_DEFAULTS.sse, 0, 5000),
      lines: int('fanout-lines', FANOUT_DEFAULTS.lines, 1, 1_000_000),
      linesPerSecond: int('fanout-rate', FANOUT_DEFAULTS.linesPerSecond, 1, 1_000_000),
      clientThreads: int('fanout-clients', FANOUT_DEFAULTS.clientThreads, 1, 64),
      warmupLines: int('fanout-warmup-lines', FANOUT_DEFAULTS.warmupLines, 0, 1_000_000),
      wsClient: wsClientOf(opts['fanout-ws-client']),
      idleStreams: int('idle-streams', FANOUT_DEFAULTS.idleStreams, 0, 10_000),
      idleSeconds: int('idle-seconds', FANOUT_DEFAULTS.idleSeconds, 1, 3600),
    },
  };
}

function wsClientOf(value: string | undefined): 'raw' | 'ws' {
  if (value === undefined) return FANOUT_DEFAULTS.wsClient;
  if (value !== 'raw' && value !== 'ws') throw new Error('--fanout-ws-client must be raw or ws');
  return value;
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  // Generous upper bound for `all` with the defaults (a few minutes); every wait inside has its own deadline.
  installExitHandlers(45 * 60_000 + 4 * args.waitIdle * 1000);
  if (args.dist) setDistRoot(resolve(args.dist));
  const sections: string[] = [];
  const machine = { ...machineDescription(), build: describeDist() };
  sections.push(
    `## Benchmark run ${new Date().toISOString()}`,
    '',
    `Command: \`npx ts-node -r tsconfig-paths/register --transpile-only bench/run.ts ${process.argv.slice(2).join(' ')}\``,
    '',
    Object.entries(machine)
      .map(([k, v]) => `- ${k}: ${v}`)
      .join('\n'),
  );
  let failed = false;
  const verdicts: string[] = [];
  const section = async (name: string, fn: () => Promise<string>) => {
    try {
      const load = () =>
        loadavg()
          .map((l) => l.toFixed(2))
          .join(' ');
      if (args.waitIdle > 0) {
        process.stderr.write(`${name}: waiting up to ${args.waitIdle} s for a quiet machine\n`);
        const quiet = await waitForQuietMachine(args.waitIdle * 1000);
        process.stderr.write(
          `${name}: ${Math.round(quiet.waitedMs / 1000)} s waited, machine ${quiet.lastBusyPct.toFixed(0)}% busy\n`,
        );
      }
      const before = load();
      const cpu = new CpuWindow();
      const body = await fn();
      const used = cpu.end();
      const markdown =
        `${body}\n\nMachine while this ran: CPUs ${used.busyPct.toFixed(0)}% busy, ` +
        `${used.oursPct.toFixed(0)}% by this benchmark's processes (client, gateway, workers, nmap), ` +
        `${used.softirqPct.toFixed(0)}% kernel softirq (loopback traffic, mostly nmap's), ` +
        `${used.othersPct.toFixed(0)}% by other processes. Load average (1/5/15 min) before: ${before}; after: ${load()}.`;
      sections.push('', markdown);
      console.log(`\n${markdown}\n`);
    } catch (error) {
      failed = true;
      const message = `### ${name}: FAILED\n\n\`\`\`\n${(error as Error).stack ?? error}\n\`\`\``;
      sections.push('', message);
      console.error(`\n${message}\n`);
      await runAllCleanups();
    }
  };
  try {
    console.log(sections.join('\n'));
    if (args.which.has('overhead')) {
      await section('overhead', async () => {
        const r = await runOverhead({
          ...OVERHEAD_DEFAULTS,
          runs: args.runs ?? OVERHEAD_DEFAULTS.runs,
          warmup: args.warmup,
          database: args.database,
        });
        verdicts.push(`overhead: ${r.met ? 'met' : 'MISSED'} (${r.added.toFixed(1)} ms added, target ≤ 30)`);
        return r.markdown;
      });
    }
    if (args.which.has('scale')) {
      await section('scale', async () => {
        const r = await runScale({
          ...SCALE_DEFAULTS,
          runs: args.scaleRuns,
          workerConcurrency: args.workerConcurrency,
          scanConcurrency: args.scanConcurrency,
          database: args.database,
        });
        verdicts.push(`scale: ${r.met ? 'met' : 'MISSED'} (ratio ${r.ratio.toFixed(3)}, target ≤ 0.65)`);
        return r.markdown;
      });
    }
    if (args.which.has('start')) {
      await section('start', async () => {
        const r = await runStart({ ...START_DEFAULTS, runs: args.startRuns, database: args.database });
        verdicts.push(`start of a /8: ${r.met ? 'met' : 'MISSED'} (${r.summary})`);
        return r.markdown;
      });
    }
    if (args.which.has('schedules')) {
      await section('schedules', async () => {
        const r = await runSchedules({
          ...SCHEDULES_DEFAULTS,
          fires: args.scheduleFires,
          scans: args.scheduleScans,
          minuteMs: args.scheduleMinuteMs,
          database: args.database,
        });
        verdicts.push(
          `schedules: ${r.met ? 'met' : 'MISSED'} (lateness p99 ${r.p99.toFixed(1)} ms, target ≤ 1000; ` +
            `${r.duplicates} duplicates, target 0)`,
        );
        return r.markdown;
      });
    }
    if (args.which.has('execute')) {
      await section('execute', async () => {
        const r = await runExecute({
          ...EXECUTE_DEFAULTS,
          runs: args.executeRuns,
          warmup: args.warmup,
          database: args.database,
        });
        verdicts.push(
          `execute: ${r.met ? 'met' : 'MISSED'} (${r.added.toFixed(1)} ms added, target ≤ 5; ` +
            `${r.beforeWorker.toFixed(1)} ms before the worker takes the batch)`,
        );
        return r.markdown;
      });
    }
    if (args.which.has('delta-diff')) {
      await section('delta-diff', async () => {
        const r = await runDeltaDiff({
          hosts: args.deltaHosts,
          runs: args.deltaRuns,
          distRoot: currentDistRoot(),
        });
        verdicts.push(`delta-diff: ${r.met ? 'met' : 'MISSED'} (${r.summary})`);
        return r.markdown;
      });
    }
    if (args.which.has('delta-latency')) {
      await section('delta-latency', async () => {
        const r = await runDeltaLatency({
          hosts: args.deltaHosts,
          runs: Math.min(args.deltaRuns, DELTA_LATENCY_DEFAULTS.runs * 3),
          database: args.database,
        });
        verdicts.push(`delta-latency: ${r.met ? 'met' : 'MISSED'} (${r.summary})`);
        return r.markdown;
      });
    }
    if (args.which.has('delta-scan')) {
      await section('delta-scan', async () => {
        const r = await runDeltaScan({ runs: args.deltaRuns, database: args.database });
        verdicts.push(`delta-scan: ${r.met ? 'met' : 'MISSED'} (${r.summary})`);
        return r.markdown;
      });
    }
    if (args.which.has('delegate')) {
      await section('delegate', async () => {
        const r = await runDelegate({
          ...CLIENTS_DEFAULTS,
          runs: args.runs ?? CLIENTS_DEFAULTS.runs,
          database: args.database,
        });
        verdicts.push(`execute of a /16 over 3 clients: ${r.met ? 'met' : 'MISSED'} (${r.summary})`);
        return r.markdown;
      });
    }
    if (args.which.has('agent-store')) {
      await section('agent-store', async () => {
        const r = await runAgentStore({ ...CLIENTS_DEFAULTS, runs: args.runs ?? 3, database: args.database });
        verdicts.push(`agent result of 10,000 hosts: ${r.met ? 'met' : 'MISSED'} (${r.summary})`);
        return r.markdown;
      });
    }
    if (args.which.has('profile')) {
      await section('profile', () =>
        runProfile({
          ...PROFILE_DEFAULTS,
          runs: args.runs ?? PROFILE_DEFAULTS.runs,
          warmup: args.warmup,
          database: args.database,
          cpuProfDir: args.cpuProf,
        }),
      );
    }
    if (args.which.has('profile-scale')) {
      await section('profile-scale', () =>
        runScaleProfile({
          ...SCALE_PROFILE_DEFAULTS,
          runs: args.scaleRunsGiven ? args.scaleRuns : SCALE_PROFILE_DEFAULTS.runs,
          workerConcurrency: args.workerConcurrency,
          scanConcurrency: args.scanConcurrency,
          database: args.database,
        }),
      );
    }
    if (args.which.has('fanout')) {
      await section('fanout', async () => {
        const r = await runFanout({
          ...FANOUT_DEFAULTS,
          ...args.fanout,
          // Two gateways on one SQLite file would contend for its lock: PostgreSQL unless --db says otherwise.
          database: args.databaseGiven ? args.database : FANOUT_DEFAULTS.database,
        });
        verdicts.push(`fan-out: ${r.met ? 'met' : 'MISSED'} (${r.summary}; target 0 lost, p99 ≤ 100 ms)`);
        return r.markdown;
      });
    }
    if (args.which.has('wide')) {
      await section('wide', async () => {
        const r = await runWide({
          runs: args.wideRuns,
          denseRuns: args.wideDenseRuns,
          database: args.database,
        });
        verdicts.push(`wide: ${r.met ? 'met' : 'MISSED'} (${r.summary})`);
        return r.markdown;
      });
    }
    if (args.which.has('wide-subscribers')) {
      await section('wide-subscribers', async () => {
        const r = await runWideSubscribers({
          runs: args.wideRuns,
          database: args.database,
          cpuProfDir: args.cpuProf,
        });
        verdicts.push(`wide-subscribers: ${r.met ? 'met' : 'MISSED'} (${r.summary})`);
        return r.markdown;
      });
    }
    if (args.which.has('profile-wide')) {
      await section('profile-wide', () =>
        runWideProfile({ ...WIDE_PROFILE_DEFAULTS, database: args.database }),
      );
    }
    if (args.which.has('xml-parse')) {
      await section('xml-parse', async () => {
        const r = await runXmlParse({
          hosts: args.xmlHosts,
          runs: args.xmlRuns,
          distRoot: currentDistRoot(),
        });
        verdicts.push(`xml-parse: ${r.summary}`);
        return r.markdown;
      });
    }
    if (args.which.has('batch-store')) {
      await section('batch-store', async () => {
        const r = await runBatchStore({
          hosts: args.storeHosts,
          runs: args.storeRuns,
          // Both databases unless --db names one.
          databases: args.databaseGiven ? [args.database] : ['sqlite', 'postgresql'],
          distRoot: currentDistRoot(),
          baseDistRoot: args.baselineDist,
        });
        verdicts.push(`batch-store: ${r.met ? 'met' : 'MISSED'} (${r.summary}; target ≤ 150 ms)`);
        return r.markdown;
      });
    }
    if (args.which.has('import')) {
      await section('import', async () => {
        const r = await runImport({
          runs: args.importRuns,
          database: args.database,
          baselineDist: args.baselineDist,
        });
        verdicts.push(`import: ${r.met ? 'met' : 'MISSED'} (${r.summary})`);
        return r.markdown;
      });
    }
    if (args.which.has('footprint')) {
      await section('footprint', () => runFootprint({ database: args.database }));
    }
    if (args.which.has('progress')) {
      await section('progress', async () => {
        const r = await runProgress({
          ...PROGRESS_DEFAULTS,
          runs: args.progressRuns,
          statsEvery: args.statsEvery,
          workerConcurrency: args.workerConcurrency,
          scanConcurrency: args.scanConcurrency,
          database: args.database,
        });
        verdicts.push(`progress: ${r.met ? 'met' : 'MISSED'} (${r.summary})`);
        return r.markdown;
      });
    }
    sections.push('', '### Verdicts', '', verdicts.map((v) => `- ${v}`).join('\n'));
    console.log(`### Verdicts\n\n${verdicts.map((v) => `- ${v}`).join('\n')}`);
  } finally {
    await runAllCleanups();
  }
  if (args.out) writeFileSync(args.out, `${sections.join('\n')}\n`);
  return failed ? 1 : 0;
}

void main().then(
  (code) => process.exit(code),
  async (error) => {
    console.error(error);
    await runAllCleanups();
    process.exit(1);
  },
);
