import { TEST_DATABASES } from '../support/database';
import { startGateway, TestUser } from '../support/gateway';
import { waitUntil } from '../support/nmap-processes';
import { nmapXml } from '../support/nmap-xml';
import { AppProcess, freePort, startProcess } from '../support/processes';
import { startSystem, TestSystem } from '../support/system';

// Issue 17, points 4, 7 and 8 on webhooks: off until WEBHOOK_ALLOW is set; this system's own ports refused
// whatever it says (at save by the gateway, at delivery by the worker); a user who is not an admin cannot read a
// network error out of the delivery log; 100 rules hold under parallel creates; missing url and host bits are
// 400s that name them. Every destination is on loopback; nothing is scanned (reports come from imports).
describe.each(TEST_DATABASES)('webhook hardening on %s (issue 17)', (database) => {
  let system: TestSystem;
  let delta: AppProcess;
  let metricsPort: number;
  let deniedPort: number;
  let user: TestUser;
  const LOOPBACK = '127.0.0.0/8,::1/128';

  /** Two imports into a new scan of `owner`: the second adds a host, so its report has a change. */
  const reportWithChanges = async (owner: TestUser | undefined, name: string) => {
    const api = system.gateway.api(owner);
    const scan = await api
      .post('/api/scans')
      .send({ verify_changes: false, name, target: '127.0.0.20', ports: '22', scan_arguments: '-sT -Pn -n' })
      .expect(201);
    const scanId = scan.body.scan.id as number;
    const file = (addresses: string[]) =>
      nmapXml(
        'nmap -sT -Pn -n -p 22 -oX - 127.0.0.0/24',
        addresses.map((address) => ({ address, state: 'up', ports: [] })),
      );
    const importFile = (xml: string) =>
      api
        .post(`/api/scans/${scanId}/results/import`)
        .set('Content-Type', 'application/xml')
        .send(xml)
        .expect(201);
    await importFile(file(['127.0.0.20']));
    return { scanId, second: () => importFile(file(['127.0.0.20', '127.0.0.21'])) };
  };
  const deliveriesOf = async (owner: TestUser | undefined, ruleId: number, count: number) => {
    let deliveries: Array<{ status_code: number | null; error: string | null }> = [];
    await waitUntil(
      async () => {
        const log = await system.gateway.api(owner).get(`/api/webhooks/${ruleId}/deliveries`).expect(200);
        deliveries = log.body.deliveries;
        return deliveries.length >= count;
      },
      30_000,
      `${count} deliveries of rule ${ruleId}`,
    );
    return deliveries;
  };

  beforeAll(async () => {
    deniedPort = await freePort();
    metricsPort = await freePort();
    system = await startSystem({
      database,
      workers: 0,
      env: { WEBHOOK_ALLOW: LOOPBACK, WEBHOOK_DENY_PORTS: String(deniedPort), WEBHOOK_ATTEMPTS: '1' },
    });
    // The worker's metrics port is its own: the gateway does not know it, the worker refuses it at delivery.
    await system.startWorker('w1', { METRICS_PORT: String(metricsPort) });
    delta = startProcess('delta', { ...system.env, WORKER_ID: `delta-hooks-${database}` });
    await delta.waitForOutput(/delta service ready/);
    user = await system.gateway.newUser(`hooks-user-${database}`);
  });
  afterAll(async () => {
    await delta?.stop('SIGKILL');
    await system?.close();
  });

  it('are off until an administrator sets WEBHOOK_ALLOW', async () => {
    const gateway = await startGateway({ database });
    try {
      const refused = await gateway.api().post('/api/webhooks').send({ url: 'http://127.0.0.1:9000/hook' });
      expect({ status: refused.status, body: refused.body }).toEqual({
        status: 400,
        body: { error: 'Webhooks are off: an administrator has not set WEBHOOK_ALLOW' },
      });
    } finally {
      await gateway.close();
    }
  });

  it("never go to this system's own ports, whatever WEBHOOK_ALLOW holds", async () => {
    const refused: Array<[string, RegExp]> = [
      ['http://127.0.0.1:6379/', /port 6379 is Redis's, one of this system's own services/],
      [`http://127.0.0.1:${deniedPort}/`, new RegExp(`port ${deniedPort} is WEBHOOK_DENY_PORTS's`)],
    ];
    if (database === 'postgresql') refused.push(['http://[::1]:5432/', /port 5432 is PostgreSQL's/]);
    for (const [url, error] of refused) {
      const answer = await system.gateway.api(user).post('/api/webhooks').send({ url });
      expect({ status: answer.status, error: answer.body.error }).toEqual({
        status: 400,
        error: expect.stringMatching(error),
      });
    }
  });

  it('refuses the worker’s own ports at delivery, and shows a non-admin no network error', async () => {
    const closed = await freePort();
    const { scanId, second } = await reportWithChanges(user, 'user hooks');
    const api = system.gateway.api(user);
    const toMetrics = await api
      .post('/api/webhooks')
      .send({ url: `http://127.0.0.1:${metricsPort}/metrics`, scan_ids: [scanId] })
      .expect(201);
    const toClosed = await api
      .post('/api/webhooks')
      .send({ url: `http://127.0.0.1:${closed}/hook`, scan_ids: [scanId] })
      .expect(201);
    const admin = await reportWithChanges(undefined, 'admin hooks');
    const adminRule = await system.gateway
      .api()
      .post('/api/webhooks')
      .send({ url: `http://127.0.0.1:${closed}/hook`, scan_ids: [admin.scanId] })
      .expect(201);
    await Promise.all([second(), admin.second()]);

    const [metrics] = await deliveriesOf(user, toMetrics.body.id, 1);
    expect(metrics).toMatchObject({
      status_code: null,
      error: expect.stringMatching(new RegExp(`port ${metricsPort} is metrics's, one of this system's own`)),
    });
    const [userSees] = await deliveriesOf(user, toClosed.body.id, 1);
    expect(userSees).toMatchObject({
      status_code: null,
      error: 'no HTTP answer (connection failed or timed out)',
    });
    const [adminSees] = await deliveriesOf(undefined, adminRule.body.id, 1);
    expect(adminSees).toMatchObject({ status_code: null, error: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('keeps a user at 100 rules under 30 parallel creates', async () => {
    const limited = await system.gateway.newUser(`hooks-limit-${database}`);
    const api = () => system.gateway.api(limited);
    const create = () =>
      api().post('/api/webhooks').send({ url: 'http://127.0.0.1:9/hook', is_active: false });
    for (let i = 0; i < 9; i++) await Promise.all(Array.from({ length: 10 }, () => create().expect(201)));
    const answers = await Promise.all(Array.from({ length: 30 }, create));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 400)).toHaveLength(20);
    expect(answers.find((a) => a.status === 400)!.body).toEqual({ error: 'At most 100 webhooks per user' });
    expect((await api().get('/api/webhooks').expect(200)).body).toHaveLength(100);
  });

  it('answers missing_fields without url, and refuses host_cidrs with host bits set', async () => {
    const api = system.gateway.api(user);
    const missing = await api
      .post('/api/webhooks')
      .send({ kinds: ['added_ports'] })
      .expect(400);
    expect(missing.body).toMatchObject({ error: 'Missing required fields', missing_fields: ['url'] });
    const hostBits = await api
      .post('/api/webhooks')
      .send({ url: 'http://127.0.0.1:9/hook', host_cidrs: ['127.0.0.1/8'] })
      .expect(400);
    expect(hostBits.body.error).toBe(
      'host_cidrs: "127.0.0.1/8" has host bits set (did you mean 127.0.0.0/8?)',
    );
    const canonical = await api
      .post('/api/webhooks')
      .send({ url: 'http://127.0.0.1:9/hook', host_cidrs: ['::ffff:127.0.0.0/104', '::FFFF:127.0.0.9'] })
      .expect(201);
    expect(canonical.body.host_cidrs).toEqual(['127.0.0.0/8', '127.0.0.9']);
  });
});
