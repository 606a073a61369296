import { MikroORM } from '@mikro-orm/core';
import { Scan } from '@nso/persistence/testing';
import { redisKeys, SCHEDULE_QUEUE } from '@nso/contracts';
import { redisOptionsFromUrl } from '@nso/events';
import { Queue } from 'bullmq';
import request from 'supertest';
import { TEST_DATABASES } from '../support/database';
import { TEST_ADMIN, TestUser } from '../support/gateway';
import { Listener, listenOn } from '../support/listeners';
import { waitUntil } from '../support/nmap-processes';
import { testRedisUrl } from '../support/redis';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

// Seed 003 "Scan Management" over HTTP: a real gateway, a real worker, real nmap against 127.0.31.0/29 only.
// SCHEDULE_MINUTE_MS (test-only) makes one minute of interval_minutes last 1.5 s; reconciliation runs every second.
describe.each(TEST_DATABASES)('scan definitions on %s', (database) => {
  let system: TestSystem;
  let listener: Listener;
  let other: TestUser;

  const api = (user?: TestUser) => system.gateway.api(user);
  const scanCount = () => system.gateway.app.get(MikroORM).em.fork().count(Scan, {});
  const definition = (extra: object = {}) => ({
    name: 'Lab listeners',
    target: '127.0.31.1, 127.0.31.2 127.0.31.4/30',
    ports: String(listener.port),
    scan_arguments: '-sT -Pn -n',
    ...extra,
  });
  const waitForEnd = async (scanId: number, resultId: number) => {
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    await socket.waitFor((m) => m.result_id === resultId && m.event === 'scan_complete');
    socket.close();
  };

  beforeAll(async () => {
    system = await startSystem({
      database,
      workers: 1,
      env: { SCHEDULE_MINUTE_MS: '1500', RECONCILE_INTERVAL_MS: '1000' },
    });
    listener = await listenOn('127.0.31.2');
    other = await system.gateway.newUser('other-user');
  });
  afterAll(async () => {
    await listener.close();
    await system.close();
  });

  it('creates a definition with the seed fields and lists it with result_count and success_rate', async () => {
    const created = await api()
      .post('/api/scans')
      .send(definition({ description: 'two listeners' }))
      .expect(201);
    expect(created.body).toMatchObject({
      status: 'success',
      message: 'Scan created successfully',
      scan: {
        name: 'Lab listeners',
        description: 'two listeners',
        target: '127.0.31.1, 127.0.31.2, 127.0.31.4/30',
        ports: String(listener.port),
        scan_arguments: '-sT -Pn -n',
        interval_minutes: null,
        is_active: true,
        is_scheduled: false,
        last_run: null,
        next_run: null,
        result_count: 0,
        success_rate: null,
      },
    });
    const list = await api().get('/api/scans?is_scheduled=false&limit=1').expect(200);
    expect(list.body).toMatchObject({ status: 'success', limit: 1, offset: 0, page: 1, per_page: 1 });
    expect(list.body.scans).toEqual([expect.objectContaining({ id: created.body.scan.id, result_count: 0 })]);
    const scheduled = await api().get('/api/scans?is_scheduled=true').expect(200);
    expect(scheduled.body.scans).toEqual([]);
    expect((await api(other).get('/api/scans').expect(200)).body.total).toBe(0);
  });

  it.each([
    [{ name: undefined, target: undefined }, { missing_fields: ['name', 'target'] }],
    [{ name: '   ' }, { error: expect.stringMatching(/name should not be empty/) }],
    [{ scan_arguments: '-sT; id' }, { option: ';', error: expect.stringMatching(/shell syntax/) }],
    [{ scan_arguments: '-sT $(id)' }, { option: '$' }],
    [{ scan_arguments: '-sT -p 22' }, { error: expect.stringMatching(/-p/) }],
    [{ scan_arguments: '-oN /tmp/x' }, { option: '-oN' }],
    [{ target: '127.0.31.1, ::2' }, { error: expect.stringMatching(/mix IPv4 .* and IPv6/) }],
    [{ target: '::2' }, { out_of_scope: ['::2'] }],
    [
      { ports: '1-70000' },
      { error: expect.stringMatching(/^ports "1-70000" is invalid: must be a port list/), field: 'ports' },
    ],
    [{ ports: 'abc' }, { error: expect.stringMatching(/^ports "abc" is invalid/), field: 'ports' }],
    [{ is_scheduled: true }, { missing_fields: ['interval_minutes'] }],
    [{ is_scheduled: true, interval_minutes: 0 }, { error: expect.stringMatching(/interval_minutes/) }],
    [{ is_scheduled: true, interval_minutes: 525601 }, { error: expect.stringMatching(/interval_minutes/) }],
    [
      { is_scheduled: true, interval_minutes: 5, cron: '0 3 * * *' },
      { error: 'Give interval_minutes or cron, not both' },
    ],
    [
      { is_scheduled: true, cron: '0 0 3 * * *' },
      { error: expect.stringMatching(/cron must have 5 fields/) },
    ],
    [{ is_scheduled: true, cron: '61 * * * *' }, { error: expect.stringMatching(/cron .* is not valid/) }],
    [
      { is_scheduled: true, cron: '0 3 * * *', timezone: 'Mars/Base' },
      { error: expect.stringMatching(/timezone/) },
    ],
    [{ colour: 'blue' }, { unknown_fields: ['colour'] }],
  ])('refuses %j with a 400 naming the problem, storing nothing', async (change, expected) => {
    const before = await scanCount();
    const response = await api().post('/api/scans').send(definition(change)).expect(400);
    expect(response.body).toMatchObject(expected);
    expect(await scanCount()).toBe(before);
  });

  it('refuses a bad ports on PUT naming the field', async () => {
    const created = await api().post('/api/scans').send(definition()).expect(201);
    const refused = await api()
      .put(`/api/scans/${created.body.scan.id}`)
      .send({ ports: '22,,80' })
      .expect(400);
    expect(refused.body).toMatchObject({
      error: expect.stringMatching(/^ports "22,,80" is invalid/),
      field: 'ports',
    });
  });

  it('updates only the fields sent (PUT is partial) and keeps another user out', async () => {
    const created = await api()
      .post('/api/scans')
      .send(definition({ is_active: false, is_scheduled: true, interval_minutes: 600 }))
      .expect(201);
    const id = created.body.scan.id;
    const updated = await api().put(`/api/scans/${id}`).send({ name: 'Renamed' }).expect(200);
    expect(updated.body).toMatchObject({
      status: 'success',
      message: 'Scan updated successfully',
      scan: {
        name: 'Renamed',
        is_active: false,
        is_scheduled: true,
        interval_minutes: 600,
        ports: String(listener.port),
      },
    });
    await api().put(`/api/scans/${id}`).send({ scan_arguments: '-sT | cat' }).expect(400);
    const unchanged = await api().get(`/api/scans/${id}`).expect(200);
    expect(unchanged.body.scan.scan_arguments).toBe('-sT -Pn -n');
    await api(other).put(`/api/scans/${id}`).send({ name: 'mine' }).expect(404, { error: 'Scan not found' });
    await api(other).get(`/api/scans/${id}/execute`).expect(404);
    await api(other).post(`/api/scans/${id}/toggle`).expect(404);
    await api(other).delete(`/api/scans/${id}`).expect(404);
  });

  it('executes a definition now: result_id, one client, nothing unassigned; a second execute while it runs is 409', async () => {
    const created = await api().post('/api/scans').send(definition()).expect(201);
    const id = created.body.scan.id;
    const executed = await api().get(`/api/scans/${id}/execute`).expect(200);
    expect(executed.body).toEqual({
      status: 'success',
      message: 'Scan delegated to 1 client',
      result_id: expect.any(Number),
      clients_triggered: 1,
      unassigned_targets: [],
    });
    const again = await api().get(`/api/scans/${id}/execute`);
    if (again.status === 409) expect(again.body.error).toMatch(/already running/);
    else expect(again.status).toBe(200); // the first run had already ended
    await waitForEnd(id, executed.body.result_id);
    const runs = await api().get(`/api/scans/${id}/results`).expect(200);
    const first = runs.body.results.find(
      (r: { result_id: number }) => r.result_id === executed.body.result_id,
    );
    expect(first).toMatchObject({ status: 'completed', trigger: 'execute', targets_total: 6, open_ports: 1 });
    const listed = await api().get('/api/scans').expect(200);
    expect(listed.body.scans.find((s: { id: number }) => s.id === id)).toMatchObject({ success_rate: 100 });
  });

  it('executes a scan made by POST /api/scans/start again, and lists it as not scheduled', async () => {
    const started = await api()
      .post('/api/scans/start')
      .send({ nmap_flags: ['-sT', '-Pn', '-n', '-p', String(listener.port)], targets: ['127.0.31.2'] })
      .expect(200);
    const id = started.body.scan_id;
    const listed = await api().get('/api/scans').expect(200);
    expect(listed.body.scans.find((s: { id: number }) => s.id === id)).toMatchObject({
      is_scheduled: false,
      is_one_off: true,
      target: '127.0.31.2',
    });
    await waitUntil(
      async () => (await api().get(`/api/scans/${id}`)).body.scan.status === 'completed',
      20_000,
      'the first run',
    );
    const executed = await api().get(`/api/scans/${id}/execute`).expect(200);
    await waitForEnd(id, executed.body.result_id);
    const runs = await api().get(`/api/scans/${id}/results`).expect(200);
    expect(runs.body.results.map((r: { trigger: string }) => r.trigger)).toEqual(['execute', 'api-start']);
  });

  it('refuses a cross-site execute carried by the session cookie', async () => {
    const created = await api().post('/api/scans').send(definition()).expect(201);
    const login = await request(system.gateway.url).post('/auth/login').send(TEST_ADMIN).expect(200);
    const cookie = (login.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
    await request(system.gateway.url)
      .get(`/api/scans/${created.body.scan.id}/execute`)
      .set('Cookie', cookie)
      .set('Sec-Fetch-Site', 'cross-site')
      .expect(403, { error: 'Cross-site request refused' });
    const runs = await api().get(`/api/scans/${created.body.scan.id}/results`).expect(200);
    expect(runs.body.total).toBe(0);
  });

  it('toggles, and deactivates on DELETE: unscheduled, the running run stopped, history kept', async () => {
    const created = await api()
      .post('/api/scans')
      .send(definition({ ports: '1-65535', scan_arguments: '-sT -Pn -n --max-rate 50' }))
      .expect(201);
    const id = created.body.scan.id;
    const off = await api().post(`/api/scans/${id}/toggle`).expect(200);
    expect(off.body).toMatchObject({
      status: 'success',
      message: 'Scan deactivated',
      scan: { is_active: false },
    });
    await api().get(`/api/scans/${id}/execute`).expect(409);
    const on = await api().post(`/api/scans/${id}/toggle`).expect(200);
    expect(on.body).toMatchObject({ message: 'Scan activated', scan: { is_active: true } });

    const executed = await api().get(`/api/scans/${id}/execute`).expect(200);
    await api()
      .delete(`/api/scans/${id}`)
      .expect(200, { status: 'success', message: 'Scan deactivated successfully' });
    const after = await api().get(`/api/scans/${id}`).expect(200);
    expect(after.body.scan).toMatchObject({ is_active: false, is_scheduled: false, next_run: null });
    const runs = await api().get(`/api/scans/${id}/results`).expect(200);
    expect(runs.body.results).toEqual([
      expect.objectContaining({ result_id: executed.body.result_id, status: 'stopped' }),
    ]);
  });

  it('runs a new schedule at once, then every interval, with true last_run and next_run; toggling off removes it', async () => {
    const created = await api()
      .post('/api/scans')
      .send(definition({ is_scheduled: true, interval_minutes: 1 }))
      .expect(201);
    const id = created.body.scan.id;
    const startedAt = Date.now();
    expect(new Date(created.body.scan.next_run).getTime()).toBeLessThanOrEqual(startedAt + 1_600);
    const runsOf = async () => (await api().get(`/api/scans/${id}/results`).expect(200)).body.results;
    await waitUntil(async () => (await runsOf()).length >= 2, 15_000, 'two scheduled runs');
    const runs = await runsOf();
    expect(runs.every((r: { trigger: string }) => r.trigger === 'schedule')).toBe(true);
    const detail = (await api().get(`/api/scans/${id}`).expect(200)).body.scan;
    expect(new Date(detail.last_run).getTime()).toBeGreaterThanOrEqual(startedAt - 1_000);
    // last_run is the start of the latest run (when it was started), not when some run finished.
    const latest = Math.max(...(await runsOf()).map((r: { created_at: string }) => Date.parse(r.created_at)));
    expect(Date.parse(detail.last_run)).toBe(latest);
    expect(new Date(detail.next_run).getTime()).toBeGreaterThan(new Date(detail.last_run).getTime());
    expect(detail.recent_fires.length).toBeGreaterThanOrEqual(2);

    await api().post(`/api/scans/${id}/toggle`).expect(200);
    const count = (await runsOf()).length;
    // Two more intervals: a schedule that was not removed would have fired at least once.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect((await runsOf()).length).toBe(count);
    expect((await api().get(`/api/scans/${id}`).expect(200)).body.scan.next_run).toBeNull();
  });

  it('skips and records a fire that comes while the previous run is still running', async () => {
    // Every port at 200 packets/s on six addresses: a run far longer than the 1.5 s interval.
    const created = await api()
      .post('/api/scans')
      .send(
        definition({
          ports: '1-65535',
          scan_arguments: '-sT -Pn -n --max-rate 200',
          is_scheduled: true,
          interval_minutes: 1,
        }),
      )
      .expect(201);
    const id = created.body.scan.id;
    const detail = async () => (await api().get(`/api/scans/${id}`).expect(200)).body.scan;
    await waitUntil(async () => (await detail()).statistics.skipped_fires >= 1, 15_000, 'a skipped fire');
    const scan = await detail();
    expect(scan.recent_fires).toContainEqual(
      expect.objectContaining({ outcome: 'skipped', reason: expect.stringMatching(/still running/) }),
    );
    const runs = (await api().get(`/api/scans/${id}/results`).expect(200)).body.results;
    expect(runs).toHaveLength(1);
    await api().delete(`/api/scans/${id}`).expect(200);
  });

  it('puts back a schedule whose job scheduler was lost (the database is the record)', async () => {
    const created = await api()
      .post('/api/scans')
      .send(definition({ is_scheduled: true, interval_minutes: 600 }))
      .expect(201);
    const id = created.body.scan.id;
    const queue = new Queue(SCHEDULE_QUEUE, {
      connection: redisOptionsFromUrl(testRedisUrl()),
      prefix: redisKeys(system.gateway.config.redisPrefix).bullPrefix,
    });
    try {
      expect(await queue.getJobScheduler(`scan-${id}`)).toBeDefined();
      await queue.removeJobScheduler(`scan-${id}`);
      await waitUntil(
        async () => (await queue.getJobScheduler(`scan-${id}`)) !== undefined,
        10_000,
        'the schedule back',
      );
    } finally {
      await queue.close();
    }
    await api().delete(`/api/scans/${id}`).expect(200);
  });

  it('shows a calendar schedule with its next time in its own time zone', async () => {
    const created = await api()
      .post('/api/scans')
      .send(definition({ is_scheduled: true, cron: '30 3 * * *', timezone: 'Europe/Berlin' }))
      .expect(201);
    const next = new Date(created.body.scan.next_run);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime()).toBeLessThanOrEqual(Date.now() + 25 * 3600_000);
    const berlin = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Berlin',
      hour: '2-digit',
      minute: '2-digit',
    }).format(next);
    expect(berlin).toBe('03:30');
    expect(created.body.scan).toMatchObject({
      cron: '30 3 * * *',
      timezone: 'Europe/Berlin',
      interval_minutes: null,
    });
    await api().delete(`/api/scans/${created.body.scan.id}`).expect(200);
  });
});
