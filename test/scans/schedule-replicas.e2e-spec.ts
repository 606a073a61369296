import request from 'supertest';
import { testDatabaseParams } from '../support/database';
import { TEST_ADMIN } from '../support/gateway';
import { Listener, listenOn } from '../support/listeners';
import { waitUntil } from '../support/nmap-processes';
import { AppProcess, freePort, startProcess } from '../support/processes';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from '../support/redis';

interface Fire {
  due_at: string;
  outcome: 'started' | 'skipped';
  result_id: number | null;
}
interface Run {
  result_id: number;
  trigger: string;
  started_at: string | null;
  finished_at: string | null;
}

// Two gateway processes and two worker processes on one PostgreSQL schema and one Redis prefix, with every
// process restarted halfway: each fire of a schedule starts exactly one run, and the schedule survives.
// SCHEDULE_MINUTE_MS (test-only) makes one minute last 1 s. Real nmap against 127.0.32.1 only.
describe('a schedule across two gateways, two workers and restarts', () => {
  const processes: AppProcess[] = [];
  let env: Record<string, string>;
  let urls: string[];
  let listener: Listener;
  let cleanup: () => Promise<void>;
  let session: { Cookie: string };

  const startGateway = async (port: number) => {
    const gateway = startProcess('gateway', { ...env, PORT: String(port) });
    processes.push(gateway);
    await gateway.waitForOutput(/API listening on/);
    return gateway;
  };
  const startWorker = async (id: string) => {
    const worker = startProcess('worker', { ...env, WORKER_ID: id });
    processes.push(worker);
    await worker.waitForOutput(/worker \S+ ready/);
    return worker;
  };

  beforeAll(async () => {
    const database = await testDatabaseParams('postgresql');
    const prefix = testRedisPrefix('sched');
    cleanup = async () => {
      await database.cleanup();
      await clearRedisPrefix(prefix);
    };
    env = {
      ADMIN_USERNAME: TEST_ADMIN.username,
      ADMIN_PASSWORD: TEST_ADMIN.password,
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DATABASE_URL: database.databaseUrl,
      DATABASE_SCHEMA: database.schema ?? '',
      SCHEDULE_MINUTE_MS: '1000',
      WORKER_LOCK_MS: '2000',
    };
    const ports = [await freePort(), await freePort()];
    await Promise.all(ports.map((port) => startGateway(port)));
    await Promise.all(['s-w1', 's-w2'].map((id) => startWorker(id)));
    urls = ports.map((port) => `http://127.0.0.1:${port}`);
    listener = await listenOn('127.0.32.1');
    const login = await request(urls[0]).post('/auth/login').send(TEST_ADMIN).expect(200);
    session = { Cookie: (login.headers['set-cookie'] as unknown as string[])[0].split(';')[0] };
  });

  afterAll(async () => {
    await listener?.close();
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await cleanup?.();
  });

  it('starts one run per fire, never two at once, and keeps firing after every process restarts', async () => {
    const created = await request(urls[0])
      .post('/api/scans')
      .set(session)
      .send({
        verify_changes: false,
        name: 'every second',
        target: '127.0.32.1',
        ports: String(listener.port),
        scan_arguments: '-sT -Pn -n',
        is_scheduled: true,
        interval_minutes: 1,
      })
      .expect(201);
    const id: number = created.body.scan.id;
    const detail = async (url = urls[1]) =>
      (await request(url).get(`/api/scans/${id}`).set(session).expect(200)).body.scan as {
        recent_fires: Fire[];
        next_run: string | null;
      };
    const runs = async () =>
      (await request(urls[1]).get(`/api/scans/${id}/results?per_page=100`).set(session).expect(200)).body
        .results as Run[];

    await waitUntil(async () => (await runs()).length >= 3, 15_000, 'three scheduled runs');
    // An edit through the other replica that does not touch the schedule adds no fire.
    await request(urls[1]).put(`/api/scans/${id}`).set(session).send({ name: 'renamed' }).expect(200);

    // Every process is killed and started again; the schedule lives in Redis and carries on.
    const before = (await runs()).length;
    const restartedAt = Date.now();
    await Promise.all(processes.splice(0).map((p) => p.stop('SIGKILL')));
    await Promise.all(urls.map((url) => startGateway(Number(new URL(url).port))));
    await Promise.all(['s-w3', 's-w4'].map((workerId) => startWorker(workerId)));
    await waitUntil(async () => (await runs()).length >= before + 3, 20_000, 'three runs after the restart');

    await request(urls[0]).post(`/api/scans/${id}/toggle`).set(session).expect(200);
    await waitUntil(
      async () => (await runs()).every((r) => r.finished_at !== null),
      20_000,
      'the last run to end',
    );
    const all = await runs();
    const fires = (await detail()).recent_fires;
    expect(all.length).toBeLessThanOrEqual(10); // all fires are among recent_fires
    expect(all.every((r) => r.trigger === 'schedule')).toBe(true);

    // One run per started fire, and no fire handled twice. recent_fires holds the newest ten fires: on a busy
    // machine, fires skipped while a run was still going can push the oldest started ones out of it, so the
    // started fires listed must be exactly the newest runs.
    const started = fires.filter((f) => f.outcome === 'started');
    const byNumber = (a: number, b: number) => a - b;
    const startedIds = started.map((f) => f.result_id as number).sort(byNumber);
    const runIds = all.map((r) => r.result_id).sort(byNumber);
    expect(startedIds.length).toBeGreaterThanOrEqual(Math.min(3, runIds.length));
    expect(startedIds).toEqual(runIds.slice(runIds.length - startedIds.length));
    expect(new Set(fires.map((f) => f.due_at)).size).toBe(fires.length);
    // Until the restart, fires are an interval apart: the edit and the second replica added none in between.
    const due = fires
      .map((f) => new Date(f.due_at).getTime())
      .filter((t) => t < restartedAt)
      .sort((a, b) => a - b);
    expect(due.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < due.length; i++) expect(due[i] - due[i - 1]).toBeGreaterThanOrEqual(900);
    // Never two runs of the scan at once.
    const spans = all
      .map((r) => [new Date(r.started_at ?? 0).getTime(), new Date(r.finished_at!).getTime()])
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
    expect((await detail(urls[0])).next_run).toBeNull();
  });
});
