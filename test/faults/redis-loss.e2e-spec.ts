// Redis faults injected into a private system: a gateway and workers (real processes from dist/) on a redis-server
// of this test's own, which is stopped, and started again empty, while they run.
import { MAINTENANCE_QUEUE, RECONCILE_RUNS_JOB } from '@nso/contracts';
import { Queue } from 'bullmq';
import request from 'supertest';
import { testDatabaseParams, TestDatabaseParams } from '../support/database';
import { TEST_ADMIN } from '../support/gateway';
import { AppProcess, freePort, startProcess } from '../support/processes';
import { PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { sseEvents } from '../support/sse-client';

/** A scan event as its SSE stream carries it. */
interface SseEvent {
  id?: string;
  event?: string;
  data: { seq: number; event: string; [field: string]: unknown };
}

const TERMINAL = ['scan_complete', 'legacy_scan_complete', 'scan_stopped', 'scan_failed'];

/**
 * Reads a scan's SSE stream into `events` until a terminal event, the deadline, or `abort`. Resolves with the
 * events either way; the caller asserts on them.
 */
function streamScan(url: string, headers: Record<string, string>, timeoutMs: number) {
  const events: SseEvent[] = [];
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const done = (async () => {
    try {
      const response = await fetch(url, {
        headers: { Accept: 'text/event-stream', ...headers },
        signal: abort.signal,
      });
      if (!response.ok || !response.body) throw new Error(`SSE ${url} answered ${response.status}`);
      for await (const event of sseEvents(response.body)) {
        if (event.data && typeof (event.data as { seq?: unknown }).seq === 'number') {
          events.push(event as SseEvent);
        }
        if (event.event && TERMINAL.includes(event.event)) return events;
      }
    } catch {
      // aborted, or the stream broke: what arrived is in `events`
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
    return events;
  })();
  return { events, done, close: () => abort.abort() };
}

async function until(
  condition: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const healthStatus = (url: string) =>
  fetch(`${url}/api/health`)
    .then((response) => response.status)
    .catch(() => 0);

const count = (text: string, pattern: RegExp): number => text.match(new RegExp(pattern, 'g'))?.length ?? 0;

interface FaultSystem {
  url: string;
  auth: { Authorization: string };
  processes: AppProcess[];
  close(): Promise<void>;
}

/** A gateway and `workers` worker processes on the private Redis and a SQLite database of their own. */
async function startSystem(redis: PrivateRedis, workers: number): Promise<FaultSystem> {
  const database: TestDatabaseParams = await testDatabaseParams('sqlite');
  const port = await freePort();
  const env = {
    ADMIN_USERNAME: TEST_ADMIN.username,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'nso-fault',
    DATABASE_URL: database.databaseUrl,
    LOG_LEVEL: 'log',
    WORKER_LOCK_MS: '2000',
    RECONCILE_INTERVAL_MS: '2000',
  };
  const processes: AppProcess[] = [];
  const close = async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await database.cleanup();
  };
  try {
    const gateway = startProcess('gateway', { ...env, PORT: String(port) });
    processes.push(gateway);
    await gateway.waitForOutput(/API listening on/);
    for (let i = 1; i <= workers; i++) {
      const worker = startProcess('worker', { ...env, WORKER_ID: `fault-w${i}`, WORKER_CONCURRENCY: '2' });
      processes.push(worker);
      await worker.waitForOutput(/worker \S+ ready/);
    }
    const url = `http://127.0.0.1:${port}`;
    // An API token lives in the database, so it outlives the sessions Redis loses.
    const login = await request(url).post('/auth/login').send(TEST_ADMIN).expect(200);
    const cookie = String(login.headers['set-cookie'][0]).split(';')[0];
    const token = await request(url).post('/api/tokens').set('Cookie', cookie).send({ name: 'faults' });
    expect(token.status).toBeLessThan(300);
    return { url, auth: { Authorization: `Bearer ${token.body.token}` }, processes, close };
  } catch (error) {
    await close();
    throw error;
  }
}

describe('Redis faults', () => {
  let redis: PrivateRedis;
  let system: FaultSystem | undefined;

  beforeEach(async () => {
    redis = await startPrivateRedis();
  });

  afterEach(async () => {
    if (process.env.NSO_DEBUG_FAULTS) for (const p of system?.processes ?? []) console.log(p.output());
    await system?.close();
    system = undefined;
    await redis.close();
  });

  it('an outage is logged once per process with its recovery, never as unhandled errors; health 503 then 200', async () => {
    system = await startSystem(redis, 1);
    const { url, processes } = system;
    expect(await healthStatus(url)).toBe(200);

    await redis.kill();
    await until(async () => (await healthStatus(url)) === 503, '/api/health to answer 503');
    await Promise.all(processes.map((p) => p.waitForOutput(/Redis does not answer/, 10_000)));
    // The outage lasts a few seconds: every connection of every process fails to reconnect several times.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await redis.start();
    await until(async () => (await healthStatus(url)) === 200, '/api/health to answer 200 again');
    await Promise.all(processes.map((p) => p.waitForOutput(/Redis answers again after/, 15_000)));

    for (const process of processes) {
      const output = process.output();
      expect(output).not.toContain('Unhandled error event');
      expect(count(output, /Redis does not answer/)).toBe(1);
      expect(count(output, /Redis answers again after/)).toBe(1);
      // Nothing else repeats the connection errors line by line.
      expect(count(output, /ECONNREFUSED/)).toBeLessThanOrEqual(1);
    }
  });

  it('a run whose Redis state is lost mid-batch is resumed from the database and ends, with seqs that keep rising', async () => {
    system = await startSystem(redis, 2);
    const { url, auth } = system;
    // Six batches of one address, two at a time, each about 3 s long (30 closed ports, 100 ms apart).
    const started = await request(url)
      .post('/api/scans/start')
      .set(auth)
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', '1-30', '--scan-delay', '100ms'],
        targets: ['127.0.23.1-6'],
        chunk_size: 1,
        concurrency: 2,
      })
      .expect(200);
    const scanId: number = started.body.scan_id;
    const eventsUrl = `${url}/api/scans/${scanId}/events`;

    // Mid-run: one batch done, the next ones running.
    const live = streamScan(eventsUrl, auth, 60_000);
    await until(
      () =>
        live.events.some((e) => e.event === 'batch_complete') &&
        live.events.filter((e) => e.event === 'batch_start').length >= 3,
      'the first batch to complete and the third to start',
    );
    live.close();
    await live.done;
    const lastSeen = Math.max(...live.events.map((e) => e.data.seq));

    // Redis restarts empty (as a redis-server without persistence does): jobs, run state, event log, seq counter
    // and the reconciliation scheduler are gone.
    await redis.kill();
    await redis.start();
    expect(await redis.client().dbsize()).toBe(0);

    // A client resuming after the last event it saw receives the rest, ending with the run's end.
    const resumed = streamScan(`${eventsUrl}?since=${lastSeen}`, auth, 60_000);
    const after = await resumed.done;
    expect(after.map((e) => e.event)).toContain('scan_complete');
    expect(after.every((e) => e.data.seq > lastSeen)).toBe(true);
    const seqs = after.map((e) => e.data.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(after[after.length - 1].event).toBe('scan_complete');

    const described = await request(url).get(`/api/scans/${scanId}`).set(auth).expect(200);
    expect(described.body.scan.status).toBe('completed');
    expect(described.body.scan.progress).toMatchObject({
      batches_done: 6,
      batches_failed: 0,
      batches_total: 6,
    });
    // The periodic reconciliation's job scheduler, lost with everything else, is back.
    const maintenance = new Queue(MAINTENANCE_QUEUE, {
      connection: { host: '127.0.0.1', port: redis.port },
      prefix: 'nso-fault:bull',
    });
    try {
      await until(
        async () => Number((await maintenance.getJobScheduler(RECONCILE_RUNS_JOB))?.every) === 2000,
        'the reconciliation scheduler to be back',
        10_000,
      );
    } finally {
      await maintenance.close();
    }
    const workers = system.processes
      .slice(1)
      .map((p) => p.output())
      .join('\n');
    expect(workers).toMatch(/resumed from the database/);
  });

  it('a worker whose nmap prints lines through an outage of several seconds lives on, and the run completes', async () => {
    system = await startSystem(redis, 1);
    const { url, auth, processes } = system;
    const worker = processes[1];
    // Two batches of about 8 s (80 closed ports, 100 ms apart), each printing a Stats line every second.
    const started = await request(url)
      .post('/api/scans/start')
      .set(auth)
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', '1-80', '--scan-delay', '100ms', '--stats-every', '1s'],
        targets: ['127.0.24.1-2'],
        chunk_size: 1,
        concurrency: 2,
      })
      .expect(200);
    const scanId: number = started.body.scan_id;
    const live = streamScan(`${url}/api/scans/${scanId}/events`, auth, 30_000);
    await until(() => live.events.some((e) => e.event === 'line'), 'the first line of nmap output');
    live.close();
    await live.done;

    // Redis is away longer than ioredis retries one command (maxRetriesPerRequest), while nmap keeps printing.
    await redis.kill();
    await worker.waitForOutput(/Redis does not answer/, 10_000);
    await worker.waitForOutput(/nmap output lines not sent|max retries per request/, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await redis.start();

    // The worker must outlive the outage: its exit ends the wait at once, with its code.
    let status = '';
    const runEnded = until(
      async () => {
        const response = await fetch(`${url}/api/scans/${scanId}`, { headers: auth });
        status = response.ok ? ((await response.json()) as { scan: { status: string } }).scan.status : '';
        return ['completed', 'failed', 'stopped'].includes(status);
      },
      'the run to end',
      30_000,
    ).then(() => `run ${status}`);
    const outcome = await Promise.race([
      runEnded,
      worker.exited.then((code) => `worker exited with ${code}`),
    ]);
    expect(outcome).toBe('run completed');
    expect(worker.output()).not.toMatch(/MaxRetriesPerRequestError:|Unhandled/);
  });

  it('a stop after Redis restarted empty is sent with a seq above every seq seen before', async () => {
    system = await startSystem(redis, 1);
    const { url, auth } = system;
    const started = await request(url)
      .post('/api/scans/start')
      .set(auth)
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', '1-100', '--scan-delay', '100ms'],
        targets: ['127.0.23.1-4'],
        chunk_size: 1,
        concurrency: 1,
      })
      .expect(200);
    const scanId: number = started.body.scan_id;
    const eventsUrl = `${url}/api/scans/${scanId}/events`;
    const live = streamScan(eventsUrl, auth, 30_000);
    await until(() => live.events.some((e) => e.event === 'line'), 'the first line of nmap output');
    live.close();
    await live.done;
    const lastSeen = Math.max(...live.events.map((e) => e.data.seq));

    await redis.kill();
    await redis.start();
    await request(url).post(`/api/scans/${scanId}/stop`).set(auth).expect(200);

    const resumed = await streamScan(`${eventsUrl}?since=${lastSeen}`, auth, 20_000).done;
    const stopped = resumed.find((e) => e.event === 'scan_stopped');
    expect(stopped?.data.seq).toBeGreaterThan(lastSeen);
    expect(resumed.every((e) => e.data.seq > lastSeen)).toBe(true);
    const described = await request(url).get(`/api/scans/${scanId}`).set(auth).expect(200);
    expect(described.body.scan.status).toBe('stopped');
  });
});
