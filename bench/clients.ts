// Benchmarks of issue 10 (scanner clients), each side by side with what it is compared with:
// - `delegate`: GET /api/scans/{id}/execute of a definition over 127.0.0.0/16 split across 3 worker pools with
//   different ranges, against the execute of a 1-address definition; answer time and the gateway's RSS.
// - `agent-store`: one HTTP agent's results of 10,000 hosts posted to POST /api/clients/{id}/results, against
//   storing the same hosts as a worker's batch (BatchRepository.storeResult, what the worker calls after nmap).
// Only the gateway runs (no worker): the pools are client rows kept online by this process, so nothing is scanned;
// runs are stopped after each measurement. Every address is loopback; the agent listens on 127.0.52.1.
import { MikroORM } from '@mikro-orm/core';
import { BatchRepository, Client, createOrmOptions, HostResultInput } from '@nso/persistence/testing';
import type { DatabaseKind, TestDatabaseParams } from '../test/support/database';
import { agentRequest } from '../test/support/agent-http';
import { startTestAgent } from '../test/support/test-agent';
import {
  assertLoopback,
  BenchSystem,
  fmt,
  markdownTable,
  median,
  memoryOf,
  nowMs,
  p90,
  postJson,
  sleep,
  startBenchSystem,
} from './support';

export interface ClientsBenchOptions {
  runs: number;
  database: DatabaseKind;
}

export const CLIENTS_DEFAULTS: ClientsBenchOptions = { runs: 7, database: 'sqlite' };
export const EXECUTE_TARGET_MS = 100;
export const STORE_TARGET_MS = 2000;
const RSS_LIMIT_MIB = 64;

export interface ClientsBenchResult {
  markdown: string;
  met: boolean;
  summary: string;
}

/** Worker pools as client rows (approved, online), without worker processes: kept alive until close(). */
export async function keepPoolsOnline(
  database: TestDatabaseParams,
  pools: Array<{ clientId: string; scanRange: string[] }>,
): Promise<{ orm: MikroORM; close(): Promise<void> }> {
  const orm = await MikroORM.init(
    createOrmOptions({ databaseUrl: database.databaseUrl, schema: database.schema }),
  );
  const em = orm.em.fork();
  const now = new Date();
  for (const pool of pools) {
    em.create(Client, {
      ...pool,
      kind: 'pool',
      lastSeen: now,
      isApproved: true,
      approvedAt: now,
      createdAt: now,
    });
  }
  await em.flush();
  const timer = setInterval(() => {
    void orm.em
      .fork()
      .nativeUpdate(Client, { kind: 'pool' }, { lastSeen: new Date() })
      .catch(() => undefined);
  }, 5000);
  return {
    orm,
    close: async () => {
      clearInterval(timer);
      await orm.close(true);
    },
  };
}

async function timedGet(system: BenchSystem, path: string) {
  const sentAt = nowMs();
  const res = await fetch(`${system.url}${path}`, { headers: system.auth });
  const body = (await res.json()) as { clients_triggered?: number } & Record<string, unknown>;
  return { status: res.status, body, ms: nowMs() - sentAt };
}

async function createDefinition(system: BenchSystem, name: string, target: string): Promise<number> {
  const created = await postJson(
    system.url,
    '/api/scans',
    { verify_changes: false, name, target, ports: '1', scan_arguments: '-sT -Pn -n' },
    system.auth,
  );
  if (created.status !== 201) throw new Error(`POST /api/scans answered ${created.status}`);
  return created.body.scan.id;
}

async function stopScan(system: BenchSystem, scanId: number): Promise<void> {
  const r = await postJson(system.url, `/api/scans/${scanId}/stop`, undefined, system.auth);
  if (r.status !== 200) throw new Error(`stop ${scanId} answered ${r.status}: ${JSON.stringify(r.body)}`);
}

/** Execute over a /16 split across 3 pools, against a 1-address execute. */
export async function runDelegate(options: ClientsBenchOptions): Promise<ClientsBenchResult> {
  const big = assertLoopback('127.0.0.0/16');
  const small = assertLoopback('127.0.0.1');
  const system = await startBenchSystem({ workers: 0, workerConcurrency: 1, database: options.database });
  const pools = await keepPoolsOnline(system.database, [
    { clientId: 'local', scanRange: ['127.0.0.0/8'] },
    { clientId: 'site-a', scanRange: ['127.0.0.0/17'] },
    { clientId: 'site-b', scanRange: ['127.0.192.0/18'] },
  ]);
  const pid = system.gateway.child.pid!;
  try {
    const bigId = await createDefinition(system, 'A /16 over three sites', big);
    const smallId = await createDefinition(system, 'One address', small);
    const execute = async (scanId: number) => {
      const r = await timedGet(system, `/api/scans/${scanId}/execute`);
      if (r.status !== 200)
        throw new Error(`execute ${scanId} answered ${r.status}: ${JSON.stringify(r.body)}`);
      await stopScan(system, scanId);
      return { ms: r.ms, body: r.body, rss: memoryOf(pid).rssMiB };
    };
    process.stderr.write('delegate: warm-up');
    await execute(bigId);
    await execute(smallId);
    await sleep(500);
    const before = memoryOf(pid);
    process.stderr.write(`\ndelegate: ${options.runs} executes of each, interleaved`);
    const bigRuns: Array<Awaited<ReturnType<typeof execute>>> = [];
    const smallRuns: Array<Awaited<ReturnType<typeof execute>>> = [];
    for (let i = 0; i < options.runs; i++) {
      if (i % 2 === 0) {
        bigRuns.push(await execute(bigId));
        smallRuns.push(await execute(smallId));
      } else {
        smallRuns.push(await execute(smallId));
        bigRuns.push(await execute(bigId));
      }
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    await sleep(500);
    const after = memoryOf(pid);
    const bigMs = bigRuns.map((r) => r.ms);
    const smallMs = smallRuns.map((r) => r.ms);
    const growth = Math.max(after.rssMiB, ...bigRuns.map((r) => r.rss)) - before.rssMiB;
    const answer = bigRuns[0].body;
    const met = median(bigMs) < EXECUTE_TARGET_MS && growth < RSS_LIMIT_MIB && answer.clients_triggered === 3;
    const row = (name: string, values: number[]) => [
      name,
      values.length,
      fmt(median(values)),
      fmt(p90(values)),
      fmt(Math.min(...values)),
      fmt(Math.max(...values)),
    ];
    const markdown = [
      `### execute of a /16 split across 3 clients (${options.database})`,
      '',
      'Pools (client rows, approved and online; no worker runs): `local` 127.0.0.0/8, `site-a` 127.0.0.0/17, ' +
        '`site-b` 127.0.192.0/18, so the /16 goes 127.0.0.0/17 → site-a, 127.0.128.0/18 → local, ' +
        '127.0.192.0/18 → site-b. Definition: ports 1, `-sT -Pn -n`, chunk_size 256 (256 batches, the first 6 ' +
        `enqueued). Each execute is stopped before the next. One warm-up of each, then ${options.runs} of each, interleaved.`,
      '',
      markdownTable(
        ['request', 'runs', 'median ms', 'p90 ms', 'min ms', 'max ms'],
        [
          row('GET /api/scans/{id}/execute, 127.0.0.0/16 over 3 clients', bigMs),
          row('the same, 127.0.0.1 (1 client)', smallMs),
        ],
      ),
      '',
      markdownTable(
        ['gateway (pid ' + pid + ')', 'VmRSS MiB', 'VmHWM MiB'],
        [
          ['after warm-up', fmt(before.rssMiB), fmt(before.hwmMiB)],
          ...bigRuns.map((r, i) => [`after /16 execute ${i + 1}`, fmt(r.rss), '']),
          ['at the end', fmt(after.rssMiB), fmt(after.hwmMiB)],
          ['**growth** (largest RSS over the baseline)', `**${fmt(growth)}**`, ''],
        ],
      ),
      '',
      `Answer of the first measured /16 execute: \`${JSON.stringify(answer)}\`.`,
      '',
      `Target: median < ${EXECUTE_TARGET_MS} ms, RSS flat (growth < ${RSS_LIMIT_MIB} MiB), 3 clients triggered → **${met ? 'met' : 'MISSED'}**.`,
    ].join('\n');
    const summary = `/16 over 3 clients median ${fmt(median(bigMs))} ms (1 address ${fmt(median(smallMs))} ms), RSS growth ${fmt(growth)} MiB`;
    return { markdown, met, summary };
  } finally {
    await pools.close();
    await system.close();
  }
}

/** 10,000 addresses: 127.x.0.0 – 127.x.39.15 as CIDRs (8,192 + 1,024 + 512 + 256 + 16). */
const tenThousand = (second: number) =>
  ['0.0/19', '32.0/22', '36.0/23', '38.0/24', '39.0/28'].map((tail) => `127.${second}.${tail}`);
const AGENT_TARGETS = tenThousand(1);
const WORKER_TARGETS = tenThousand(2);
const HOSTS = 10_000;

/** What the agent posts for each address: up, ssh and http open (the same for the worker's rows). */
function agentBody(task: { result_id: number; task_id: string; targets: string[] }) {
  const parsed: Record<string, unknown> = {};
  for (const address of task.targets) {
    parsed[address] = {
      hostname: '',
      state: 'up',
      open_ports: [22, 80],
      port_details: {
        '22': { protocol: 'tcp', name: 'ssh', product: 'OpenSSH', version: '9.6', extrainfo: '' },
        '80': { protocol: 'tcp', name: 'http', product: 'nginx', version: '1.24', extrainfo: '' },
      },
    };
  }
  return {
    result_id: task.result_id,
    task_id: task.task_id,
    status: 'completed',
    parsed_results: parsed,
    summary_stats: {
      total_targets: task.targets.length,
      completed_targets: task.targets.length,
      error_targets: 0,
      total_open_ports: 2 * task.targets.length,
    },
  };
}

function workerHosts(addresses: string[]): HostResultInput[] {
  return addresses.map((address) => ({
    address,
    addressType: 'ipv4',
    hostnames: [],
    state: 'up',
    ports: [
      {
        protocol: 'tcp',
        port: 22,
        state: 'open',
        service: { name: 'ssh', product: 'OpenSSH', version: '9.6' },
      },
      {
        protocol: 'tcp',
        port: 80,
        state: 'open',
        service: { name: 'http', product: 'nginx', version: '1.24' },
      },
    ],
  }));
}

/** One agent result of 10,000 hosts over HTTP, against the same hosts stored as a worker's batch. */
export async function runAgentStore(options: ClientsBenchOptions): Promise<ClientsBenchResult> {
  AGENT_TARGETS.concat(WORKER_TARGETS).forEach((t) => assertLoopback(t));
  const system = await startBenchSystem({
    workers: 0,
    workerConcurrency: 1,
    database: options.database,
    env: { AGENT_TASK_TARGETS: String(HOSTS), AGENT_TASK_TIMEOUT: '3600' },
  });
  // The worker side: a pool with no worker process; its batch is stored from here as a worker would store it.
  const pools = await keepPoolsOnline(system.database, [
    { clientId: 'bench-pool', scanRange: ['127.2.0.0/16'] },
  ]);
  const agent = await startTestAgent({
    gatewayUrl: system.url,
    clientId: 'bench-agent',
    host: '127.0.52.1',
    scanRange: '127.1.0.0/16',
    behaviour: 'silent',
  });
  const runs = Math.max(1, Math.min(options.runs, 5));
  try {
    await agent.heartbeat();
    const approved = await postJson(system.url, '/api/clients/bench-agent/approve', undefined, system.auth);
    if (approved.status !== 200) throw new Error(`approve answered ${approved.status}`);
    const batches = new BatchRepository(pools.orm.em.fork());
    const agentMs: number[] = [];
    const workerMs: number[] = [];
    const start = async (targets: string[]) => {
      const r = await postJson(
        system.url,
        '/api/scans/start',
        { targets, nmap_flags: ['-sT', '-Pn', '-n', '-p', '22,80'], chunk_size: 4096 },
        system.auth,
      );
      if (r.status !== 200) throw new Error(`scans/start answered ${r.status}: ${JSON.stringify(r.body)}`);
      return r.body.scan_id as number;
    };
    for (let i = 0; i < runs; i++) {
      process.stderr.write(`agent-store: run ${i + 1}/${runs}\n`);
      // The agent's result: one task of 10,000 addresses, posted as seed 003's body from the agent's address.
      const agentScan = await start(AGENT_TARGETS);
      const deadline = Date.now() + 30_000;
      while (agent.tasks.length <= i) {
        if (Date.now() > deadline) throw new Error('the agent got no task');
        await sleep(20);
      }
      const task = agent.tasks[i];
      if (task.targets.length !== HOSTS) throw new Error(`the task has ${task.targets.length} addresses`);
      const body = agentBody(task);
      const sentAt = nowMs();
      const posted = await agentRequest(system.url, 'POST', '/api/clients/bench-agent/results', body, {
        from: agent.host,
      });
      agentMs.push(nowMs() - sentAt);
      if (posted.status !== 200)
        throw new Error(`results answered ${posted.status}: ${JSON.stringify(posted.body)}`);

      // The worker's side: the same 10,000 hosts stored into a batch of a run delegated to the pool.
      const workerScan = await start(WORKER_TARGETS);
      const run = await pools.orm.em
        .fork()
        .getConnection()
        .execute(`select id from scan_results where scan_id = ${Number(workerScan)}`);
      const resultId = Number(run[0].id);
      const addresses = [
        ...Array.from({ length: 8192 }, (_, k) => `127.2.${k >> 8}.${k & 255}`),
        ...Array.from({ length: 1792 }, (_, k) => `127.2.${32 + (k >> 8)}.${k & 255}`),
        ...Array.from({ length: 16 }, (_, k) => `127.2.39.${k}`),
      ];
      const started = await batches.start({ resultId, seq: 1, targets: [], workerId: 'bench-worker' });
      const hosts = workerHosts(addresses);
      const storeAt = nowMs();
      await batches.storeResult({
        batchId: started.batchId,
        workerId: 'bench-worker',
        exitCode: 0,
        stderr: null,
        finishedAt: new Date(),
        hosts,
      });
      workerMs.push(nowMs() - storeAt);
      await stopScan(system, workerScan);
      await postJson(system.url, `/api/scans/${agentScan}/stop`, undefined, system.auth).catch(
        () => undefined,
      );
    }
    const met = median(agentMs) <= STORE_TARGET_MS;
    const row = (name: string, values: number[]) => [
      name,
      values.length,
      fmt(median(values)),
      fmt(Math.min(...values)),
      fmt(Math.max(...values)),
    ];
    const markdown = [
      `### storing one agent result of 10,000 hosts (${options.database})`,
      '',
      'Each host up with 2 open ports (tcp/22 ssh, tcp/80 http, with product and version): 10,000 host rows and ' +
        '20,000 port rows. Agent: `AGENT_TASK_TARGETS=10000` (one task), the body posted from 127.0.52.1, timed from ' +
        'sending to the 200 (JSON parse, validation, checks, storing, counting). Worker batch: the same hosts passed ' +
        'to `BatchRepository.storeResult` in this process (what a worker calls after nmap; no HTTP).',
      '',
      markdownTable(
        ['path', 'runs', 'median ms', 'min ms', 'max ms'],
        [
          row('POST /api/clients/{id}/results, 10,000 hosts', agentMs),
          row('worker batch: BatchRepository.storeResult, the same 10,000 hosts', workerMs),
        ],
      ),
      '',
      `Target: the agent's result stored in ≤ ${STORE_TARGET_MS} ms → **${met ? 'met' : 'MISSED'}** ` +
        `(median ${fmt(median(agentMs))} ms, ${fmt(median(agentMs) / median(workerMs), 2)}× the worker batch's store).`,
    ].join('\n');
    const summary = `agent result of 10,000 hosts ${fmt(median(agentMs))} ms vs worker batch store ${fmt(median(workerMs))} ms`;
    return { markdown, met, summary };
  } finally {
    await agent.close();
    await pools.close();
    await system.close();
  }
}
