import request from 'supertest';
import { testDatabaseParams } from '../support/database';
import { TEST_ADMIN } from '../support/gateway';
import { AppProcess, freePort, startProcess } from '../support/processes';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from '../support/redis';
import { openScanSocket } from '../support/ws-client';
import { Listener, listenOn } from '../support/listeners';

// Two gateway processes and one worker process on one PostgreSQL schema and one Redis prefix: a scan started
// through gateway A is watched live through gateway B.
describe('two gateway replicas', () => {
  const processes: AppProcess[] = [];
  let urls: string[];
  let listener: Listener;
  let cleanup: () => Promise<void>;
  let session: { Cookie: string };

  beforeAll(async () => {
    const database = await testDatabaseParams('postgresql');
    const prefix = testRedisPrefix('multi');
    cleanup = async () => {
      await database.cleanup();
      await clearRedisPrefix(prefix);
    };
    const env = {
      ADMIN_USERNAME: TEST_ADMIN.username,
      ADMIN_PASSWORD: TEST_ADMIN.password,
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DATABASE_URL: database.databaseUrl,
      DATABASE_SCHEMA: database.schema,
    };
    const ports = [await freePort(), await freePort()];
    for (const port of ports) processes.push(startProcess('gateway', { ...env, PORT: String(port) }));
    await Promise.all(processes.map((p) => p.waitForOutput(/API listening on/)));
    const worker = startProcess('worker', { ...env, WORKER_ID: 'multi-w1' });
    processes.push(worker);
    await worker.waitForOutput(/worker \S+ ready/);
    urls = ports.map((port) => `http://127.0.0.1:${port}`);
    listener = await listenOn('127.0.14.5');
  });

  afterAll(async () => {
    await listener?.close();
    await Promise.all(processes.map((p) => p.stop('SIGTERM')));
    await cleanup?.();
  });

  it('accepts on gateway B the session cookie that gateway A issued', async () => {
    const login = await request(urls[0]).post('/auth/login').send(TEST_ADMIN).expect(200);
    const cookie = login.headers['set-cookie'][0].split(';')[0];
    session = { Cookie: cookie };
    await request(urls[1]).get('/api/projects').set(session).expect(200);
    await request(urls[1]).get('/auth/logout').set(session).expect(302);
    await request(urls[0])
      .get('/api/projects')
      .set(session)
      .expect(401, { error: 'Session expired; log in again' });
    const again = await request(urls[1]).post('/auth/login').send(TEST_ADMIN).expect(200);
    session = { Cookie: again.headers['set-cookie'][0].split(';')[0] };
  });

  it('streams on gateway B the events of a scan started through gateway A', async () => {
    const started = await request(urls[0])
      .post('/api/scans/start')
      .set(session)
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', String(listener.port)],
        targets: ['127.0.14.4-5'],
        chunk_size: 1,
      })
      .expect(200);
    const onB = await openScanSocket(urls[1], started.body.scan_id, { headers: session });
    const onA = await openScanSocket(urls[0], started.body.scan_id, { headers: session });
    await Promise.all([onA, onB].map((s) => s.waitFor((m) => m.event === 'scan_complete')));
    onA.close();
    onB.close();
    expect(onB.messages).toEqual(onA.messages);
    const completes = onB.messages.filter((m) => m.event === 'batch_complete');
    expect(completes.map((m) => m.summary.open_ports).sort()).toEqual([0, 1]);
    const described = await request(urls[1])
      .get(`/api/scans/${started.body.scan_id}`)
      .set(session)
      .expect(200);
    expect(described.body.scan.status).toBe('completed');
  });

  it('shuts down cleanly on SIGTERM, ending open WebSocket and SSE streams', async () => {
    const [a, b, worker] = processes;
    const started = await request(urls[0])
      .post('/api/scans/start')
      .set(session)
      .send({ nmap_flags: ['-sT', '-Pn', '-n', '-p', String(listener.port)], targets: ['127.0.14.5'] })
      .expect(200);
    const socket = await openScanSocket(urls[0], started.body.scan_id, { headers: session });
    const sse = await fetch(`${urls[0]}/api/scans/${started.body.scan_id}/events`, { headers: session });
    const sseEnded = (async () => {
      for await (const _chunk of sse.body as unknown as AsyncIterable<Uint8Array>) {
        // drain until the server ends the response
      }
      return 'ended';
    })();
    const codes = await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM'), worker.stop('SIGTERM')]);
    expect(codes).toEqual([0, 0, 0]);
    expect(await socket.closed).toEqual({ code: 1001, reason: 'Server shutting down' });
    expect(await sseEnded).toBe('ended');
  });
});
