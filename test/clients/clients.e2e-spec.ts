// Seed 003 "Client Management" over HTTP on a real gateway: enrolment by heartbeat, approval by an admin, the
// address binding, PUT, toggle, listing, the offline rule, worker pools as clients (real worker processes), and
// rate limits that count agents per client. Every address here is loopback and nothing is ever sent to one.
import { EntityManager } from '@mikro-orm/core';
import { Client } from '@nso/persistence/testing';
import { agentRequest } from '../support/agent-http';
import { TEST_DATABASES } from '../support/database';
import { startGateway, TestGateway, TestUser } from '../support/gateway';
import { startSystem, TestSystem } from '../support/system';

const AGENT = 'aa:bb:cc:dd:ee:01';
const heartbeatBody = (overrides: Record<string, unknown> = {}) => ({
  client_id: AGENT,
  hostname: 'scanner-01',
  ip_address: '127.0.0.2',
  port: 8080,
  scan_range: '127.0.0.0/24',
  ...overrides,
});

const UNAPPROVED = { status: 'success', message: 'Client updated but awaiting approval', approved: false };
const APPROVED = { status: 'success', message: 'Client updated successfully', approved: true };

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.each(TEST_DATABASES)('scanner clients on %s', (database) => {
  let gateway: TestGateway;
  let user: TestUser;
  const heartbeat = (body: unknown, from = '127.0.0.1', id = AGENT) =>
    agentRequest(gateway.url, 'POST', `/api/clients/${id}/heartbeat`, body, { from });
  const details = async (id = AGENT) =>
    (await gateway.api().get(`/api/clients/${id}`).expect(200)).body as {
      client: Record<string, unknown>;
      recent_tasks: unknown[];
    };

  beforeAll(async () => {
    gateway = await startGateway({ database, localPool: false });
    user = await gateway.newUser('plainuser');
  });
  afterAll(() => gateway?.close());

  it('enrols a new agent unapproved (403, the seed body) and approves it on an admin word (200 next time)', async () => {
    const first = await heartbeat(heartbeatBody({ active_scans: 0, system_info: { os: 'Linux' } }));
    expect(first).toMatchObject({ status: 403, body: UNAPPROVED });
    expect(first.body).toEqual(UNAPPROVED);

    const stored = await details();
    expect(stored).toEqual({
      status: 'success',
      client: expect.objectContaining({
        client_id: AGENT,
        kind: 'agent',
        hostname: 'scanner-01',
        ip_address: '127.0.0.2',
        port: 8080,
        scan_range: '127.0.0.0/24',
        scan_range_outside_scope: [],
        status: 'online',
        is_approved: false,
        is_enabled: true,
        system_info: { os: 'Linux' },
        source_ip: '127.0.0.1',
        approved_ip: null,
        last_seen: expect.stringMatching(/^\d{4}-/),
        created_at: expect.stringMatching(/^\d{4}-/),
      }),
      recent_tasks: [],
    });

    // A plain user may not approve: 403 with the seed's body; nobody at all: 401.
    const refused = await gateway.api(user).post(`/api/clients/${AGENT}/approve`).expect(403);
    expect(refused.body).toEqual({ error: 'Unauthorized' });
    await agentRequest(gateway.url, 'POST', `/api/clients/${AGENT}/approve`).then((r) =>
      expect(r.status).toBe(401),
    );
    expect((await details()).client.is_approved).toBe(false);

    const approved = await gateway.api().post(`/api/clients/${AGENT}/approve`).expect(200);
    expect(approved.body).toMatchObject({
      status: 'success',
      message: 'Client approved successfully',
      client: { client_id: AGENT, is_approved: true, approved_ip: '127.0.0.1' },
    });

    const next = await heartbeat(heartbeatBody());
    expect(next).toMatchObject({ status: 200, body: APPROVED });
    expect(next.body).toEqual(APPROVED);
  });

  it('refuses an approved agent heard from another address (403) and shows the refusal to admins', async () => {
    const fromElsewhere = await heartbeat(heartbeatBody(), '127.0.0.2');
    expect(fromElsewhere.status).toBe(403);
    expect(fromElsewhere.body).toMatchObject({ error: 'Unauthorized' });
    const put = await agentRequest(
      gateway.url,
      'PUT',
      `/api/clients/${AGENT}`,
      { status: 'offline' },
      { from: '127.0.0.2' },
    );
    expect(put.status).toBe(403);

    const client = (await details()).client;
    expect(client).toMatchObject({
      is_approved: true,
      approved_ip: '127.0.0.1',
      source_ip: '127.0.0.1',
      refused_ip: '127.0.0.2',
      refused_count: 2,
      refused_at: expect.stringMatching(/^\d{4}-/),
      status: 'online',
    });
    // A plain user sees the client, not its binding.
    const seen = await gateway.api(user).get(`/api/clients/${AGENT}`).expect(200);
    expect(seen.body.client).toMatchObject({ client_id: AGENT, is_approved: true });
    expect(seen.body.client).not.toHaveProperty('approved_ip');
    expect(seen.body.client).not.toHaveProperty('refused_ip');

    // The bound address still works.
    expect((await heartbeat(heartbeatBody())).status).toBe(200);
  });

  it('takes PUT {"status": "offline"} from the agent itself without credentials, and changes from an admin', async () => {
    const put = await agentRequest(gateway.url, 'PUT', `/api/clients/${AGENT}`, { status: 'offline' });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      status: 'success',
      message: 'Client updated successfully',
      client: { client_id: AGENT, status: 'offline' },
    });
    expect((await details()).client.status).toBe('offline');
    // A heartbeat right after (the original agent's heartbeat thread runs through its shutdown) leaves it
    // offline; one 5 s later (the row's updated_at moved back instead of waiting) brings it back.
    expect((await heartbeat(heartbeatBody())).status).toBe(200);
    expect((await details()).client.status).toBe('offline');
    await gateway.app
      .get(EntityManager)
      .fork()
      .nativeUpdate(Client, { clientId: AGENT }, { updatedAt: new Date(Date.now() - 6_000) });
    expect((await heartbeat(heartbeatBody())).status).toBe(200);
    expect((await details()).client.status).toBe('online');

    await gateway.api(user).put(`/api/clients/${AGENT}`).send({ hostname: 'mine' }).expect(403);
    const byAdmin = await gateway
      .api()
      .put(`/api/clients/${AGENT}`)
      .send({ hostname: 'scanner-01-updated', status: 'online' })
      .expect(200);
    expect(byAdmin.body.client).toMatchObject({ hostname: 'scanner-01-updated', is_approved: true });
    await gateway
      .api()
      .put('/api/clients/nobody-here')
      .send({ hostname: 'x' })
      .expect(404, { error: 'Client not found' });
  });

  it('asks for approval again when an approved agent changes where it listens or what it scans', async () => {
    const other = 'aa:bb:cc:dd:ee:02';
    await heartbeat(heartbeatBody({ client_id: other }), '127.0.0.1', other);
    await gateway.api().post(`/api/clients/${other}/approve`).expect(200);
    expect((await heartbeat(heartbeatBody({ client_id: other }), '127.0.0.1', other)).status).toBe(200);
    const moved = await heartbeat(
      heartbeatBody({ client_id: other, scan_range: '127.0.0.0/16' }),
      '127.0.0.1',
      other,
    );
    expect(moved).toMatchObject({ status: 403, body: UNAPPROVED });
    expect((await details(other)).client).toMatchObject({ is_approved: false, scan_range: '127.0.0.0/16' });
  });

  it('toggles visibility: a disabled client shows offline', async () => {
    const off = await gateway.api().post(`/api/clients/${AGENT}/toggle`).expect(200);
    expect(off.body).toMatchObject({ status: 'success', message: 'Client marked as offline' });
    expect((await details()).client).toMatchObject({ is_enabled: false, status: 'offline' });
    await gateway.api(user).post(`/api/clients/${AGENT}/toggle`).expect(403, { error: 'Unauthorized' });
    const on = await gateway.api().post(`/api/clients/${AGENT}/toggle`).expect(200);
    expect(on.body).toMatchObject({ status: 'success', message: 'Client marked as online' });
    expect((await details()).client).toMatchObject({ is_enabled: true, status: 'online' });
  });

  it('lists clients for admins only, filtered by status and approval, paginated', async () => {
    await gateway.api(user).get('/api/clients').expect(403, { error: 'Unauthorized' });
    await gateway.api().post('/api/clients/aa:bb:cc:dd:ee:02/toggle').expect(200);

    const all = await gateway.api().get('/api/clients').expect(200);
    expect(all.body).toMatchObject({
      status: 'success',
      total: 2,
      page: 1,
      has_next: false,
      has_prev: false,
    });
    expect(all.body.clients.map((c: { client_id: string }) => c.client_id)).toEqual([
      AGENT,
      'aa:bb:cc:dd:ee:02',
    ]);

    const ids = async (query: string) =>
      (
        (await gateway.api().get(`/api/clients?${query}`).expect(200)).body.clients as { client_id: string }[]
      ).map((c) => c.client_id);
    expect(await ids('status=online')).toEqual([AGENT]);
    expect(await ids('status=offline')).toEqual(['aa:bb:cc:dd:ee:02']);
    expect(await ids('status=scanning')).toEqual([]);
    expect(await ids('is_approved=true')).toEqual([AGENT]);
    expect(await ids('is_approved=false')).toEqual(['aa:bb:cc:dd:ee:02']);
    expect(await ids('kind=pool')).toEqual([]);
    const page = await gateway.api().get('/api/clients?per_page=1&page=2').expect(200);
    expect(page.body).toMatchObject({ total: 2, page: 2, per_page: 1, has_next: false, has_prev: true });
    await gateway.api().get('/api/clients?status=busy').expect(400);
  });

  it('revokes at once: the next heartbeat is awaiting approval again', async () => {
    await gateway.api(user).post(`/api/clients/${AGENT}/revoke`).expect(403, { error: 'Unauthorized' });
    const revoked = await gateway.api().post(`/api/clients/${AGENT}/revoke`).expect(200);
    expect(revoked.body).toMatchObject({
      status: 'success',
      message: 'Client approval revoked successfully',
      client: { is_approved: false, approved_ip: null },
    });
    expect(await heartbeat(heartbeatBody())).toMatchObject({ status: 403, body: UNAPPROVED });
    await gateway.api().post('/api/clients/nobody-here/approve').expect(404, { error: 'Client not found' });
  });

  it('counts scanning from active_scans', async () => {
    await heartbeat(heartbeatBody({ active_scans: ['scan-1', 'scan-2'] }));
    expect((await details()).client).toMatchObject({ status: 'scanning', active_scans: 2 });
    const scanning = await gateway.api().get('/api/clients?status=scanning').expect(200);
    expect(scanning.body.clients.map((c: { client_id: string }) => c.client_id)).toEqual([AGENT]);
  });
});

describe('scanner client input', () => {
  let gateway: TestGateway;
  beforeAll(async () => (gateway = await startGateway({ localPool: false })));
  afterAll(() => gateway?.close());

  const heartbeat = (body: unknown, id = AGENT) =>
    agentRequest(gateway.url, 'POST', `/api/clients/${id}/heartbeat`, body);

  it('refuses a body client_id that differs from the URL (400), storing nothing', async () => {
    const answer = await heartbeat(heartbeatBody({ client_id: 'aa:bb:cc:dd:ee:99' }));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: expect.stringMatching(/client_id/) });
    await gateway.api().get(`/api/clients/${AGENT}`).expect(404, { error: 'Client not found' });
  });

  it.each([
    ['ip_address', { ip_address: 'scanner.example' }],
    ['ip_address', { ip_address: '127.0.0.256' }],
    ['port', { port: 0 }],
    ['port', { port: 65536 }],
    ['port', { port: '8080' }],
    ['scan_range', { scan_range: '127.0.0.1/8' }],
    ['scan_range', { scan_range: '127.0.0.0/24, not-a-cidr' }],
    ['scan_range', { scan_range: '' }],
    ['active_scans', { active_scans: -1 }],
    ['system_info', { system_info: 'Linux' }],
  ])('400 naming %s for %j', async (field, overrides) => {
    const answer = await heartbeat(heartbeatBody(overrides));
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toContain(field);
  });

  it('400 listing missing fields', async () => {
    const answer = await heartbeat({ client_id: AGENT });
    expect(answer).toMatchObject({
      status: 400,
      body: {
        error: 'Missing required fields',
        missing_fields: ['hostname', 'ip_address', 'port', 'scan_range'],
      },
    });
  });

  it.each(['-starts-with-dash', 'has space', 'x'.repeat(129), 'semi;colon'])(
    '400 for the client id %j',
    async (id) => {
      const answer = await heartbeat(heartbeatBody({ client_id: undefined }), encodeURIComponent(id));
      expect(answer).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/^client_id must be/) },
      });
    },
  );

  it('accepts several CIDRs, comma separated, and stores them normalised', async () => {
    const answer = await heartbeat(heartbeatBody({ scan_range: '127.0.0.0/24, 127.0.5.7' }));
    expect(answer.status).toBe(403);
    const stored = await gateway.api().get(`/api/clients/${AGENT}`).expect(200);
    expect(stored.body.client.scan_range).toBe('127.0.0.0/24,127.0.5.7/32');
  });

  it('refuses a client_id the worker pool holds (pools report through the database)', async () => {
    // A pool row as a worker process writes it (the worker-pool tests below start real ones).
    const em = gateway.app.get(EntityManager).fork();
    em.create(Client, { clientId: 'pool-x', kind: 'pool', scanRange: ['127.0.0.0/8'], isApproved: true });
    await em.flush();
    const answer = await heartbeat(heartbeatBody({ client_id: 'pool-x' }), 'pool-x');
    expect(answer).toMatchObject({ status: 403, body: { error: 'Unauthorized' } });
  });
});

describe('scanner clients in the OpenAPI document', () => {
  let gateway: TestGateway;
  beforeAll(async () => (gateway = await startGateway({ localPool: false })));
  afterAll(() => gateway?.close());

  it('describes every client endpoint and the heartbeat body', async () => {
    const document = (await gateway.api().get('/api/docs-json').expect(200)).body;
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/api/clients',
        '/api/clients/{clientId}',
        '/api/clients/{clientId}/heartbeat',
        '/api/clients/{clientId}/approve',
        '/api/clients/{clientId}/revoke',
        '/api/clients/{clientId}/toggle',
      ]),
    );
    expect(Object.keys(document.paths['/api/clients/{clientId}'])).toEqual(
      expect.arrayContaining(['get', 'put']),
    );
    expect(document.components.schemas.HeartbeatDto.required).toEqual([
      'hostname',
      'ip_address',
      'port',
      'scan_range',
    ]);
  });
});

describe('scan_range beyond the scan scope', () => {
  let gateway: TestGateway;
  beforeAll(
    async () =>
      (gateway = await startGateway({ env: { SCAN_SCOPE_ALLOW: '127.0.0.0/16' }, localPool: false })),
  );
  afterAll(() => gateway?.close());

  it('is taken, and the part outside the scope is named in the answer and the client', async () => {
    const answer = await agentRequest(
      gateway.url,
      'POST',
      `/api/clients/${AGENT}/heartbeat`,
      heartbeatBody({ scan_range: '127.0.0.0/15' }),
    );
    expect(answer).toMatchObject({
      status: 403,
      body: { ...UNAPPROVED, scan_range_outside_scope: ['127.1.0.0/16'] },
    });
    const stored = await gateway.api().get(`/api/clients/${AGENT}`).expect(200);
    expect(stored.body.client).toMatchObject({
      scan_range: '127.0.0.0/15',
      scan_range_outside_scope: ['127.1.0.0/16'],
    });
  });
});

describe.each(TEST_DATABASES)('worker pools and the offline rule on %s', (database) => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem({
      database,
      workers: 0,
      env: { CLIENT_OFFLINE_AFTER: '2' },
      localPool: false,
    });
  });
  afterAll(() => system?.close());

  const clients = async (query = '') =>
    (await system.gateway.api().get(`/api/clients${query}`).expect(200)).body.clients as Array<
      Record<string, unknown>
    >;

  it('shows worker processes of one WORKER_CLIENT_ID as one approved pool client, offline once they stop', async () => {
    const first = await system.startWorker('w1');
    const second = await system.startWorker('w2');
    const pools = await clients('?kind=pool');
    expect(pools).toEqual([
      expect.objectContaining({
        client_id: 'local',
        kind: 'pool',
        is_approved: true,
        status: 'online',
        scan_range: '127.0.0.0/8,::1/128',
        ip_address: null,
        port: null,
      }),
    ]);
    const health = await system.gateway.api().get('/api/health').expect(200);
    expect(health.body.stats.active_clients).toBe(1);

    // While its queue has a batch in progress the pool is `scanning`, then `online` again.
    const started = await system.gateway
      .api()
      .post('/api/scans/start')
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', '1-65535', '--max-rate', '100'],
        targets: ['127.0.55.1'],
      })
      .expect(200);
    await eventually(
      async () => ((await clients('?status=scanning&kind=pool')).length === 1 ? true : undefined),
      'the pool scanning',
    );
    expect((await clients('?kind=pool'))[0]).toMatchObject({ status: 'scanning', active_scans: 1 });
    await system.gateway.api().post(`/api/scans/${started.body.scan_id}/stop`).expect(200);
    await eventually(
      async () => ((await clients('?status=online&kind=pool')).length === 1 ? true : undefined),
      'the pool online again',
    );

    // Beats keep it online past CLIENT_OFFLINE_AFTER.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await clients('?kind=pool'))[0].status).toBe('online');

    await first.stop();
    await second.stop();
    await eventually(
      async () => ((await clients('?status=offline&kind=pool')).length === 1 ? true : undefined),
      'the pool goes offline',
    );
    const after = await system.gateway.api().get('/api/health').expect(200);
    expect(after.body.stats.active_clients).toBe(0);
  });

  it('keeps a revoked pool revoked when its workers start again, whatever WORKER_AUTO_APPROVE says', async () => {
    await system.gateway.api().post('/api/clients/local/revoke').expect(200);
    const worker = await system.startWorker('w3');
    const local = await system.gateway.api().get('/api/clients/local').expect(200);
    expect(local.body.client).toMatchObject({ kind: 'pool', is_approved: false, status: 'online' });
    await worker.stop();
  });

  it("does not take over an approved HTTP agent's client_id (an unapproved one's it does)", async () => {
    const id = 'agent-not-a-pool';
    await agentRequest(
      system.gateway.url,
      'POST',
      `/api/clients/${id}/heartbeat`,
      heartbeatBody({ client_id: id }),
    );
    await system.gateway.api().post(`/api/clients/${id}/approve`).expect(200);
    const worker = await system.startWorker('w4', { WORKER_CLIENT_ID: id });
    await worker.waitForOutput(/already an approved HTTP agent's id/);
    const client = await system.gateway.api().get(`/api/clients/${id}`).expect(200);
    expect(client.body.client).toMatchObject({
      kind: 'agent',
      scan_range: '127.0.0.0/24',
      is_approved: true,
    });
    await worker.stop();
  });

  it('registers a pool with its own WORKER_SCAN_RANGE, unapproved when WORKER_AUTO_APPROVE=false', async () => {
    const worker = await system.startWorker('b1', {
      WORKER_CLIENT_ID: 'site-b',
      WORKER_SCAN_RANGE: '127.0.1.0/24',
      WORKER_AUTO_APPROVE: 'false',
    });
    const siteB = await system.gateway.api().get('/api/clients/site-b').expect(200);
    expect(siteB.body.client).toMatchObject({
      kind: 'pool',
      is_approved: false,
      status: 'online',
      scan_range: '127.0.1.0/24',
    });
    await worker.stop();
  });

  it('marks an agent offline CLIENT_OFFLINE_AFTER after its last heartbeat', async () => {
    const id = 'agent-quiet';
    await agentRequest(
      system.gateway.url,
      'POST',
      `/api/clients/${id}/heartbeat`,
      heartbeatBody({ client_id: id }),
    );
    const seen = await system.gateway.api().get(`/api/clients/${id}`).expect(200);
    expect(seen.body.client.status).toBe('online');
    const lastSeen = Date.parse(seen.body.client.last_seen as string);
    await eventually(async () => {
      const now = await system.gateway.api().get(`/api/clients/${id}`).expect(200);
      return now.body.client.status === 'offline' ? true : undefined;
    }, 'the agent goes offline');
    expect(Date.now() - lastSeen).toBeGreaterThanOrEqual(2_000);
  });
});

describe('rate limits of agent routes', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({
      localPool: false,
      env: { RATE_LIMIT_ANONYMOUS: '3', RATE_LIMIT_CLIENT: '5', CLIENT_ENROL_LIMIT: '6' },
    });
  });
  afterAll(() => gateway?.close());

  const beat = (id: string) =>
    agentRequest(gateway.url, 'POST', `/api/clients/${id}/heartbeat`, heartbeatBody({ client_id: id }), {
      from: '127.0.0.3',
    });

  it('does not throttle five agents behind one address, each heartbeating within its own budget', async () => {
    const statuses: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (let agent = 1; agent <= 5; agent++) statuses.push((await beat(`nat-agent-${agent}`)).status);
    }
    // 20 requests from one address, far past the anonymous budget of 3: all answered (unapproved), none 429.
    expect(statuses).toEqual(new Array(20).fill(403));
    // The anonymous budget of that address is untouched by them.
    const other = await agentRequest(gateway.url, 'GET', '/api/projects', undefined, { from: '127.0.0.3' });
    expect(other.status).toBe(401);
    expect(other.headers['x-ratelimit-limit']).toBe('3');
  });

  it('throttles one client past its own budget', async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await beat('chatty-agent'));
    expect(answers.map((a) => a.status)).toEqual([403, 403, 403, 403, 403, 429]);
    expect(answers[5].body).toMatchObject({ error: 'Rate limit exceeded' });
  });

  it('bounds new client ids per source address (registration floods)', async () => {
    // Six ids were enrolled from 127.0.0.3 above (five NAT agents and chatty-agent): the next new one is refused.
    const flood = await beat('flood-1');
    expect(flood).toMatchObject({ status: 429, body: { error: 'Too many new clients from this address' } });
    await gateway.api().get('/api/clients/flood-1').expect(404);
    // Known clients carry on.
    expect((await beat('nat-agent-1')).status).toBe(403);
  });
});
