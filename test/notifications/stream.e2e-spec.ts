// Seed 003 "SSE Streaming" and "System Monitoring" across two gateway replicas (this process and a gateway process)
// and a real worker on one PostgreSQL schema and one Redis prefix: who gets which notification, resuming with
// Last-Event-ID, the login redirect when a session ends or a token is revoked, broadcast rights, the statistics and the metrics pages, and
// the admins' notice of a worker pool awaiting approval.
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { EntityManager } from '@mikro-orm/core';
import Redis from 'ioredis';
import request from 'supertest';
import { Notifier } from '@nso/events';
import { Metrics } from '@nso/monitoring';
import { ApiToken } from '@nso/persistence/testing';
import { agentRequest } from '../support/agent-http';
import { TEST_ADMIN, TestUser } from '../support/gateway';
import { Listener, listenOn } from '../support/listeners';
import { AppProcess, freePort, startProcess } from '../support/processes';
import { OpenSse, notificationsOf, openSse } from '../support/sse-stream';
import { startSystem, TestSystem } from '../support/system';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text';

/** Polls until `check` holds (5 s at most). */
async function stallUntil(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const ready = (stream: OpenSse) => stream.waitFor((e) => e.comment === 'connected');
const hasMessage = (pattern: RegExp) => (e: { data: unknown }) =>
  pattern.test((e.data as { message?: string } | undefined)?.message ?? '');

describe('/api/stream, /api/broadcast, /api/stats and metrics on two gateways', () => {
  let system: TestSystem;
  let gatewayB: AppProcess;
  let a: string;
  let b: string;
  let metricsB: string;
  let metricsWorker: string;
  let listener: Listener;
  let alice: TestUser;
  let bob: TestUser;
  const streams: OpenSse[] = [];
  const open = async (url: string, headers: Record<string, string> = {}) => {
    const stream = await openSse(`${url}/api/stream`, headers);
    streams.push(stream);
    expect(stream.status).toBe(200);
    await ready(stream);
    return stream;
  };

  beforeAll(async () => {
    system = await startSystem({ database: 'postgresql', workers: 0 });
    a = system.gateway.url;
    const workerMetricsPort = await freePort();
    await system.startWorker('w1', { METRICS_PORT: String(workerMetricsPort) });
    metricsWorker = `http://127.0.0.1:${workerMetricsPort}/metrics`;
    const [portB, metricsPortB] = [await freePort(), await freePort()];
    gatewayB = startProcess('gateway', {
      ...system.env,
      PORT: String(portB),
      METRICS_PORT: String(metricsPortB),
      // Keep-alives and session checks every second, so an expired session is noticed within the test.
      SSE_KEEPALIVE_SECONDS: '1',
      ADMIN_USERNAME: TEST_ADMIN.username,
      ADMIN_PASSWORD: TEST_ADMIN.password,
    });
    await gatewayB.waitForOutput(/API listening on/);
    b = `http://127.0.0.1:${portB}`;
    metricsB = `http://127.0.0.1:${metricsPortB}/metrics`;
    alice = await system.gateway.newUser('alice');
    bob = await system.gateway.newUser('bob');
    listener = await listenOn('127.0.15.5');
  }, 60_000);

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await listener?.close();
    await gatewayB?.stop('SIGTERM');
    await system?.close();
  });

  it('refuses a broadcast from a non-admin (403) and a malformed one (400)', async () => {
    await request(a)
      .post('/api/broadcast')
      .set(alice.auth)
      .send({ message: 'hi', type: 'info' })
      .expect(403, { error: 'Unauthorized' });
    await request(a).post('/api/broadcast').send({ message: 'hi', type: 'info' }).expect(401);
    const admin = system.gateway.admin.auth;
    for (const body of [
      { message: '   ', type: 'info' },
      { type: 'info' },
      { message: 'hi', type: 'debug' },
      { message: 'hi' },
      { message: 'x'.repeat(1001), type: 'info' },
      { message: 'bell\u0007', type: 'info' },
    ]) {
      await request(a).post('/api/broadcast').set(admin).send(body).expect(400);
    }
  });

  it("delivers broadcasts to every stream on every replica, and a user's own events to that user only", async () => {
    const anonymousB = await open(b);
    const aliceA = await open(a, alice.auth);
    const bobB = await open(b, bob.auth);
    const adminB = await open(b, system.gateway.admin.auth);

    await request(a)
      .post('/api/broadcast')
      .set(system.gateway.admin.auth)
      .send({ message: '  System update complete  ', type: 'success' })
      .expect(200, { status: 'Message broadcasted' });
    for (const stream of [anonymousB, aliceA, bobB, adminB]) {
      const event = await stream.waitFor(hasMessage(/System update/));
      expect(event.data).toEqual({ message: 'System update complete', type: 'success' });
      expect(event.id).toMatch(/^b\d+/);
    }

    // Alice's scan of loopback, through gateway B, run by the worker process.
    const started = await request(b)
      .post('/api/scans/start')
      .set(alice.auth)
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', String(listener.port)],
        targets: ['127.0.15.4-5'],
        chunk_size: 1,
      })
      .expect(200);
    const done = await aliceA.waitFor(hasMessage(/completed/), 60_000);
    expect(done.data).toEqual({
      message: expect.stringContaining(`(#${started.body.scan_id}) completed`),
      type: 'success',
    });

    // An agent enrols: admins are told, nobody else.
    const heartbeat = await agentRequest(b, 'POST', '/api/clients/stream-agent-1/heartbeat', {
      hostname: 'probe-1',
      ip_address: '127.0.0.1',
      port: 8080,
      scan_range: '127.0.0.0/24',
      active_scans: 0,
    });
    expect(heartbeat.status).toBe(403);
    const awaiting = await adminB.waitFor(hasMessage(/awaiting approval/));
    expect(awaiting.id).toMatch(/^b\d+-u0-a\d+$/);
    expect(awaiting.data).toEqual({
      message: 'Client stream-agent-1 (probe-1) from 127.0.0.1 is awaiting approval',
      type: 'info',
    });

    // A last broadcast marks the end: everything before it has arrived everywhere.
    await request(b)
      .post('/api/broadcast')
      .set(system.gateway.admin.auth)
      .send({ message: 'end of test', type: 'info' })
      .expect(200);
    await Promise.all([anonymousB, aliceA, bobB, adminB].map((s) => s.waitFor(hasMessage(/end of test/))));
    const broadcasts = [
      { message: 'System update complete', type: 'success' },
      { message: 'end of test', type: 'info' },
    ];
    expect(notificationsOf(anonymousB)).toEqual(broadcasts);
    expect(notificationsOf(bobB)).toEqual(broadcasts);
    expect(notificationsOf(aliceA)).toEqual([broadcasts[0], done.data, broadcasts[1]]);
    expect(notificationsOf(adminB)).toEqual([broadcasts[0], awaiting.data, broadcasts[1]]);
  });

  it('resumes after Last-Event-ID with what was missed, and nothing twice', async () => {
    const first = await open(b, alice.auth);
    await request(a)
      .post('/api/broadcast')
      .set(system.gateway.admin.auth)
      .send({ message: 'resume 1', type: 'info' })
      .expect(200);
    const seen = await first.waitFor(hasMessage(/resume 1/));
    // The id names a position in each topic the stream follows: broadcast and Alice's own.
    expect(seen.id).toMatch(/^b\d+-u\d+$/);
    first.close();
    await request(a)
      .post('/api/broadcast')
      .set(system.gateway.admin.auth)
      .send({ message: 'resume 2', type: 'warning' })
      .expect(200);
    await request(a)
      .post('/api/broadcast')
      .set(system.gateway.admin.auth)
      .send({ message: 'resume 3', type: 'error' })
      .expect(200);
    const resumed = await open(a, { ...alice.auth, 'Last-Event-ID': seen.id! });
    await resumed.waitFor(hasMessage(/resume 3/));
    expect(notificationsOf(resumed)).toEqual([
      { message: 'resume 2', type: 'warning' },
      { message: 'resume 3', type: 'error' },
    ]);
    // A malformed id is refused naming the header, as GET /api/scans/{id}/events refuses one.
    for (const id of ['garbage', '-1', '12']) {
      const refused = await request(a)
        .get('/api/stream')
        .set({ ...alice.auth, 'Last-Event-ID': id })
        .expect(400);
      expect(refused.body).toEqual({ error: 'Last-Event-ID must be an id of this stream, such as b12-u3' });
    }
  });

  it('sends the login redirect and ends a session stream when the session is logged out on another replica', async () => {
    const login = await request(a).post('/auth/login').send(TEST_ADMIN).expect(200);
    const cookie = String(login.headers['set-cookie'][0]).split(';')[0];
    const stream = await open(a, { Cookie: cookie });
    await request(b).get('/auth/logout').set({ Cookie: cookie }).expect(302);
    const redirect = await stream.waitFor((e) => (e.data as { type?: string })?.type === 'redirect');
    expect(redirect.data).toEqual({ type: 'redirect', url: '/auth/login', endpoint: 'auth.login' });
    await stream.ended;
    expect(stream.events.at(-1)).toBe(redirect);
  });

  it('ends a token stream with the login redirect when the token is revoked on another replica; the token then gets 401', async () => {
    const created = await request(a).post('/api/tokens').set(alice.auth).send({ name: 'stream' }).expect(201);
    const auth = { Authorization: `Bearer ${created.body.token}` };
    const stream = await open(a, auth);
    const other = await open(a, alice.auth); // Alice's other token: its stream stays
    await request(b).delete(`/api/tokens/${created.body.id}`).set(alice.auth).expect(200);
    // Within 5 s: gateway A checks only every 15 s, so it is the revocation's message that ends the stream.
    const redirect = await stream.waitFor((e) => (e.data as { type?: string })?.type === 'redirect', 5_000);
    expect(redirect.data).toEqual({ type: 'redirect', url: '/auth/login', endpoint: 'auth.login' });
    await stream.ended;
    expect(stream.events.at(-1)).toBe(redirect);

    const again = await fetch(`${a}/api/stream`, { headers: { Accept: 'text/event-stream', ...auth } });
    expect(again.status).toBe(401);
    expect(await again.json()).toEqual({ error: 'Invalid or revoked token' });
    await request(a)
      .post('/api/broadcast')
      .set(system.gateway.admin.auth)
      .send({ message: 'after revocation', type: 'info' })
      .expect(200);
    await other.waitFor(hasMessage(/after revocation/));
    expect(other.events.some((e) => (e.data as { type?: string })?.type === 'redirect')).toBe(false);
  });

  it('ends a token stream at the next check when its token row is gone without a revocation message', async () => {
    const created = await request(b).post('/api/tokens').set(bob.auth).send({ name: 'gone' }).expect(201);
    const stream = await open(b, { Authorization: `Bearer ${created.body.token}` });
    await stream.waitFor((e) => e.comment === 'keep-alive', 5_000);
    // Deleted behind the API's back: nothing is published, so only gateway B's check (every second) sees it.
    await system.gateway.app.get(EntityManager).fork().nativeDelete(ApiToken, { id: created.body.id });
    const redirect = await stream.waitFor((e) => (e.data as { type?: string })?.type === 'redirect', 5_000);
    expect(redirect.data).toEqual({ type: 'redirect', url: '/auth/login', endpoint: 'auth.login' });
    await stream.ended;
  });

  it('notices an expired session at the next check (every SSE_KEEPALIVE_SECONDS), keeping the stream alive till then', async () => {
    const login = await request(b).post('/auth/login').send(TEST_ADMIN).expect(200);
    const cookie = String(login.headers['set-cookie'][0]).split(';')[0];
    const stream = await open(b, { Cookie: cookie });
    await stream.waitFor((e) => e.comment === 'keep-alive', 5_000);
    // Expiry is Redis dropping the key; no logout publishes anything.
    const redis = new Redis(system.env.REDIS_URL);
    const sessionId = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
    const digest = createHash('sha256').update(sessionId).digest('hex');
    expect(await redis.del(`${system.env.REDIS_PREFIX}:session:${digest}`)).toBe(1);
    redis.disconnect();
    const redirect = await stream.waitFor((e) => (e.data as { type?: string })?.type === 'redirect', 5_000);
    expect(redirect.data).toEqual({ type: 'redirect', url: '/auth/login', endpoint: 'auth.login' });
    await stream.ended;
  });

  it('drops a subscriber that does not read its stream instead of buffering for it', async () => {
    const gauge = system.gateway.app.get(Metrics).subscribers;
    const streamsOpen = async () =>
      (await gauge.get()).values.find((v) => v.labels.transport === 'stream')?.value ?? 0;
    const before = await streamsOpen();
    const { port } = new URL(a);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    const greeted = await new Promise<string>((resolve) =>
      socket.once('data', (chunk) => resolve(String(chunk))),
    );
    expect(greeted).toContain('200 OK');
    await stallUntil(async () => (await streamsOpen()) === before + 1);
    socket.pause(); // reads nothing more: the kernel buffers fill, then the gateway's
    const deadline = Date.now() + 30_000;
    const notifier = system.gateway.app.get(Notifier);
    const message = 'x'.repeat(1000);
    while ((await streamsOpen()) > before && Date.now() < deadline) {
      await Promise.all(Array.from({ length: 500 }, () => notifier.broadcast({ message, type: 'info' })));
    }
    expect(await streamsOpen()).toBe(before);
    socket.destroy();
  });

  it('counts runs, batches and clients in /api/stats per viewer, and the same source in /api/health', async () => {
    const aliceStats = await request(b).get('/api/stats').set(alice.auth).expect(200);
    expect(aliceStats.body).toEqual({
      status: 'success',
      period_hours: 24,
      since: expect.any(String),
      stats: {
        clients: { total: 2, online: 2, scanning: 0, offline: 0 },
        tasks: { total: 2, pending: 0, running: 0, completed: 2, failed: 0 },
        agent_tasks: { total: 0, pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0 },
        scans: { total: 1, completed: 1, failed: 0 },
      },
    });
    const since = Date.parse(aliceStats.body.since);
    expect(Math.abs(Date.now() - 24 * 3600_000 - since)).toBeLessThan(60_000);
    const bobStats = await request(a).get('/api/stats?hours=1').set(bob.auth).expect(200);
    expect(bobStats.body.period_hours).toBe(1);
    expect(bobStats.body.stats.tasks).toEqual({ total: 0, pending: 0, running: 0, completed: 0, failed: 0 });
    expect(bobStats.body.stats.scans).toEqual({ total: 0, completed: 0, failed: 0 });
    const adminStats = await request(a)
      .get('/api/stats?hours=8760')
      .set(system.gateway.admin.auth)
      .expect(200);
    expect(adminStats.body.stats.scans).toEqual({ total: 1, completed: 1, failed: 0 });
    for (const hours of ['0', '8761', 'abc', '1.5', '']) {
      const refused = await request(a).get(`/api/stats?hours=${hours}`).set(bob.auth).expect(400);
      expect(JSON.stringify(refused.body)).toContain('hours');
    }
    await request(a).get('/api/stats').expect(401);

    const health = await request(b).get('/api/health').expect(200);
    expect(health.body.stats).toEqual({ active_clients: 1, pending_tasks: 0, running_tasks: 0 });
  });

  it('serves Prometheus metrics on METRICS_PORT of each process', async () => {
    const streamB = await open(b);
    const gatewayText = await (await fetch(metricsB)).text();
    const samples = parsePrometheusText(gatewayText);
    expect(sampleValue(samples, 'nso_queue_jobs', { queue: 'scan-batches', state: 'waiting' })).toBe(0);
    expect(sampleValue(samples, 'nso_queue_jobs', { queue: 'scan-batches', state: 'active' })).toBe(0);
    // Alice's two batches went through the `local` pool's own queue; the old shared queue is still shown.
    const queues = new Set(samples.filter((s) => s.name === 'nso_queue_jobs').map((s) => s.labels.queue));
    expect([...queues].sort()).toEqual(['scan-batches', 'scan-batches.local']);
    const local = (state: string) =>
      sampleValue(samples, 'nso_queue_jobs', { queue: 'scan-batches.local', state });
    expect([local('waiting'), local('active'), local('completed'), local('failed')]).toEqual([0, 0, 2, 0]);
    expect(sampleValue(samples, 'nso_agent_tasks', { status: 'running' })).toBe(0);
    expect(sampleValue(samples, 'nso_runs', { status: 'completed' })).toBe(1);
    expect(sampleValue(samples, 'nso_batches', { status: 'completed' })).toBe(2);
    expect(sampleValue(samples, 'nso_client_up', { client_id: 'local', kind: 'pool' })).toBe(1);
    expect(sampleValue(samples, 'nso_subscribers', { transport: 'stream' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, 'nso_notifications_delivered_total', {})).toBeGreaterThan(0);
    expect(sampleValue(samples, 'nso_notifications_published_total', { topic: 'admins' })).toBe(1);
    streamB.close();

    const workerSamples = parsePrometheusText(await (await fetch(metricsWorker)).text());
    expect(
      sampleValue(workerSamples, 'nso_nmap_process_duration_seconds_count', { outcome: 'completed' }),
    ).toBe(2);
    expect(sampleValue(workerSamples, 'nso_scan_events_published_total', {})).toBeGreaterThan(0);
    expect(sampleValue(workerSamples, 'nso_notifications_published_total', { topic: 'user' })).toBe(1);
    expect((await fetch(metricsB.replace('/metrics', '/other'))).status).toBe(404);
  });

  // Last: the stopped run would change the counts the statistics and metrics tests check.
  it('tells the owner, on every replica, that their run was stopped', async () => {
    const onA = await open(a, alice.auth);
    const onB = await open(b, alice.auth);
    const started = await request(a)
      .post('/api/scans/start')
      .set(alice.auth)
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', String(listener.port)],
        targets: ['127.0.16.0/24'],
        chunk_size: 1,
        concurrency: 1,
      })
      .expect(200);
    await request(b).post(`/api/scans/${started.body.scan_id}/stop`).set(alice.auth).expect(200);
    for (const stream of [onA, onB]) {
      const stopped = await stream.waitFor(hasMessage(/stopped/));
      expect(stopped.data).toEqual({
        message: expect.stringContaining(`(#${started.body.scan_id}) was stopped`),
        type: 'warning',
      });
    }
  });

  it('tells the admins, and nobody else, once, that a new worker pool awaits approval', async () => {
    const adminB = await open(b, system.gateway.admin.auth);
    const aliceA = await open(a, alice.auth);
    const site = {
      WORKER_CLIENT_ID: 'site-stream',
      WORKER_AUTO_APPROVE: 'false',
      WORKER_SCAN_RANGE: '127.0.17.0/24',
    };
    await system.startWorker('w-site-1', site);
    const notice = await adminB.waitFor(hasMessage(/site-stream/));
    expect(notice.data).toEqual({
      message: `Worker pool site-stream (${hostname()}) is awaiting approval`,
      type: 'info',
    });
    expect(notice.id).toMatch(/^b\d+-u0-a\d+$/);
    // A second replica of the pool finds its row: it says nothing (its registration is done once it is ready).
    await system.startWorker('w-site-2', site);
    await request(a)
      .post('/api/broadcast')
      .set(system.gateway.admin.auth)
      .send({ message: 'pool end', type: 'info' })
      .expect(200);
    await Promise.all([adminB, aliceA].map((s) => s.waitFor(hasMessage(/pool end/))));
    expect(notificationsOf(adminB)).toEqual([notice.data, { message: 'pool end', type: 'info' }]);
    expect(notificationsOf(aliceA)).toEqual([{ message: 'pool end', type: 'info' }]);

    // Its queue is on the metrics page from now on, empty: runs are not delegated to an unapproved pool.
    const samples = parsePrometheusText(await (await fetch(metricsB)).text());
    expect(
      sampleValue(samples, 'nso_queue_jobs', { queue: 'scan-batches.site-stream', state: 'waiting' }),
    ).toBe(0);
  });
});
