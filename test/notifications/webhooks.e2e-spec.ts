import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { TEST_DATABASES } from '../support/database';
import { TestUser } from '../support/gateway';
import { Listener, listenOn } from '../support/listeners';
import { waitUntil } from '../support/nmap-processes';
import { parsePrometheusText } from '../support/prometheus-text';
import { AppProcess, freePort, startProcess } from '../support/processes';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

/** What the receiver got: one entry per request. */
interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  raw: string;
}

/** A webhook receiver on 127.0.0.1 (random port): /fail answers 500, anything else 204. */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        headers: req.headers,
        raw: Buffer.concat(chunks).toString('utf8'),
      });
      res.statusCode = req.url?.startsWith('/fail') ? 500 : 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// Webhooks end to end: real gateway, worker and delta processes; nmap against 127.0.41.0/29 only; every webhook
// destination is the receiver on 127.0.0.1. Non-loopback addresses appear only as refused data.
describe.each(TEST_DATABASES)('webhooks on %s', (database) => {
  let system: TestSystem;
  let delta: AppProcess;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let stayOpen: Listener;
  let closing: Listener | undefined;
  let opening: Listener | undefined;
  let openingPort: number;
  let closingPort: number;
  let scanId: number;
  let other: TestUser;
  let workerMetrics: string;

  const api = (user?: TestUser) => system.gateway.api(user);

  const executeRun = async (): Promise<number> => {
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    try {
      const executed = await api().get(`/api/scans/${scanId}/execute`).expect(200);
      const resultId = executed.body.result_id as number;
      await socket.waitFor((m) => m.result_id === resultId && m.event === 'scan_complete', 60_000);
      return resultId;
    } finally {
      socket.close();
    }
  };

  beforeAll(async () => {
    system = await startSystem({
      database,
      workers: 0,
      env: {
        // Webhooks are off by default (issue 17): the receivers of this test live on loopback.
        WEBHOOK_ALLOW: '127.0.0.0/8,::1/128',
        WEBHOOK_RETRY_BASE_MS: '50',
        WEBHOOK_ATTEMPTS: '5',
        WEBHOOK_DISABLE_AFTER: '3',
      },
    });
    const metricsPort = await freePort();
    await system.startWorker('w1', { METRICS_PORT: String(metricsPort) });
    workerMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
    delta = startProcess('delta', { ...system.env, WORKER_ID: `delta-${Date.now()}` });
    await delta.waitForOutput(/delta service ready/);
    receiver = await startReceiver();
    other = await system.gateway.newUser('webhook-other');
    stayOpen = await listenOn('127.0.41.1');
    closing = await listenOn('127.0.41.1');
    closingPort = closing.port;
    const probe = await listenOn('127.0.41.2');
    openingPort = probe.port;
    await probe.close();
    const created = await api()
      .post('/api/scans')
      .send({
        verify_changes: false,
        name: 'Webhook lab',
        target: '127.0.41.1, 127.0.41.2',
        ports: [stayOpen.port, closingPort, openingPort].join(','),
        scan_arguments: '-sT -Pn -n',
      })
      .expect(201);
    scanId = created.body.scan.id;
  });
  afterAll(async () => {
    await Promise.all([stayOpen?.close(), closing?.close(), opening?.close(), receiver?.close()]);
    await delta?.stop('SIGKILL');
    await system?.close();
  });

  it('keeps rules to their owner and refuses bad input and destinations outside WEBHOOK_ALLOW', async () => {
    const created = await api()
      .post('/api/webhooks')
      .send({ url: `${receiver.url}/crud`, secret: 'top-secret', ports: [443, 22, 22], protocols: ['tcp'] })
      .expect(201);
    expect(created.body).toMatchObject({
      url: `${receiver.url}/crud`,
      has_secret: true,
      is_active: true,
      kinds: [],
      ports: [22, 443],
      protocols: ['tcp'],
      host_cidrs: [],
      scan_ids: [],
      consecutive_failures: 0,
      disabled_reason: null,
    });
    expect(created.body).not.toHaveProperty('secret');
    const id = created.body.id as number;
    const one = await api().get(`/api/webhooks/${id}`).expect(200);
    expect(JSON.stringify(one.body)).not.toContain('top-secret');
    const listed = await api().get('/api/webhooks').expect(200);
    expect(listed.body.map((r: { id: number }) => r.id)).toContain(id);

    // Another user sees none of it.
    await api(other).get(`/api/webhooks/${id}`).expect(404);
    await api(other).put(`/api/webhooks/${id}`).send({ is_active: false }).expect(404);
    await api(other).delete(`/api/webhooks/${id}`).expect(404);
    await api(other).get(`/api/webhooks/${id}/deliveries`).expect(404);
    expect((await api(other).get('/api/webhooks').expect(200)).body).toEqual([]);
    await api().get('/api/webhooks/0').expect(400);

    // PUT is partial; secret null removes the secret.
    const updated = await api()
      .put(`/api/webhooks/${id}`)
      .send({ secret: null, kinds: ['added_ports'], host_cidrs: ['127.0.41.0/29'] })
      .expect(200);
    expect(updated.body).toMatchObject({
      has_secret: false,
      ports: [22, 443],
      kinds: ['added_ports'],
      host_cidrs: ['127.0.41.0/29'],
    });

    // Destinations outside the allow-list: data only, never contacted.
    for (const url of ['http://203.0.113.9/', 'http://[::2]:80/', 'http://10.0.0.1:8080/hook']) {
      const refused = await api().post('/api/webhooks').send({ url }).expect(400);
      expect(refused.body.error).toContain(url);
      expect(refused.body.error).toMatch(/WEBHOOK_ALLOW/);
      await api().put(`/api/webhooks/${id}`).send({ url }).expect(400);
    }
    const otherScan = await api(other)
      .post('/api/scans')
      .send({ verify_changes: false, name: 'Not yours', target: '127.0.41.5', ports: '1' })
      .expect(201);
    const bad: object[] = [
      {},
      { url: 'ftp://127.0.0.1/' },
      { url: 'http://user:pw@127.0.0.1/' },
      { url: `${receiver.url}/\u0000` },
      { url: `${receiver.url}/`, kinds: ['new_ports'] },
      { url: `${receiver.url}/`, ports: [70000] },
      { url: `${receiver.url}/`, ports: ['22'] },
      { url: `${receiver.url}/`, protocols: ['icmp'] },
      { url: `${receiver.url}/`, host_cidrs: ['127.0.0.0/33'] },
      { url: `${receiver.url}/`, scan_ids: [otherScan.body.scan.id] },
      { url: `${receiver.url}/`, is_active: 'yes' },
    ];
    for (const body of bad) await api().post('/api/webhooks').send(body).expect(400);
    await api()
      .put(`/api/webhooks/${id}`)
      .send({ scan_ids: [otherScan.body.scan.id] })
      .expect(400);

    await api().delete(`/api/webhooks/${id}`).expect(200);
    await api().get(`/api/webhooks/${id}`).expect(404);
  });

  it('delivers a signed, filtered report; retries a failing receiver and then disables its rule', async () => {
    const secret = 'hook-secret-1';
    const matching = await api()
      .post('/api/webhooks')
      .send({
        url: `${receiver.url}/ok`,
        secret,
        kinds: ['added_ports'],
        ports: [openingPort],
        host_cidrs: ['127.0.41.0/29'],
        scan_ids: [scanId],
      })
      .expect(201);
    const unmatched = await api()
      .post('/api/webhooks')
      .send({ url: `${receiver.url}/never`, ports: [1] })
      .expect(201);
    const failing = await api()
      .post('/api/webhooks')
      .send({ url: `${receiver.url}/fail` })
      .expect(201);
    // Another user's rule hears nothing of the admin's scans.
    await api(other)
      .post('/api/webhooks')
      .send({ url: `${receiver.url}/other` })
      .expect(201);

    await executeRun();
    await closing!.close();
    closing = undefined;
    opening = await listenOn('127.0.41.2', openingPort);
    await executeRun();

    const failingId = failing.body.id as number;
    await waitUntil(
      async () => (await api().get(`/api/webhooks/${failingId}`)).body.is_active === false,
      30_000,
      'the failing rule disabled',
    );
    await waitUntil(() => receiver.received.some((r) => r.path === '/ok'), 30_000, 'the matching delivery');

    // The matching rule: one signed POST with only its changes.
    const ok = receiver.received.filter((r) => r.path === '/ok');
    expect(ok).toHaveLength(1);
    const [delivery] = ok;
    expect(delivery.headers).toMatchObject({
      'content-type': 'application/json',
      'x-netscan-event': 'delta_report',
      'x-netscan-delivery': expect.stringMatching(/^wh\d+-d\d+$/),
    });
    const expected = `sha256=${createHmac('sha256', secret).update(delivery.raw).digest('hex')}`;
    expect(delivery.headers['x-netscan-signature']).toBe(expected);
    const payload = JSON.parse(delivery.raw);
    expect(payload).toMatchObject({
      event: 'delta_report',
      scan_id: scanId,
      scan_name: 'Webhook lab',
      report_id: expect.any(Number),
      summary: { new_ports_count: 1, closed_ports_count: 1, has_changes: true },
      truncated: false,
    });
    expect(payload.changes).toEqual([
      expect.objectContaining({ kind: 'added_port', host: '127.0.41.2', protocol: 'tcp', port: openingPort }),
    ]);
    expect(payload.text).toContain(`127.0.41.2 tcp/${openingPort} opened`);
    expect(payload.text).not.toContain('\n');
    const okLog = await api().get(`/api/webhooks/${matching.body.id}/deliveries`).expect(200);
    expect(okLog.body).toMatchObject({ total: 1, page: 1 });
    expect(okLog.body.deliveries).toEqual([
      expect.objectContaining({ report_id: payload.report_id, attempt: 1, status_code: 204, error: null }),
    ]);

    // The failing rule: three tries (WEBHOOK_DISABLE_AFTER) of one delivery, unsigned, then disabled.
    const failed = receiver.received.filter((r) => r.path === '/fail');
    expect(failed).toHaveLength(3);
    expect(new Set(failed.map((r) => r.headers['x-netscan-delivery'])).size).toBe(1);
    expect(failed[0].headers).not.toHaveProperty('x-netscan-signature');
    const rule = (await api().get(`/api/webhooks/${failingId}`).expect(200)).body;
    expect(rule).toMatchObject({ is_active: false, consecutive_failures: 3 });
    expect(rule.disabled_reason).toMatch(/3 failed deliveries in a row \(last: HTTP 500\)/);
    const log = await api().get(`/api/webhooks/${failingId}/deliveries?per_page=2`).expect(200);
    expect(log.body).toMatchObject({ total: 3, per_page: 2, has_next: true });
    expect(log.body.deliveries.map((d: { attempt: number }) => d.attempt)).toEqual([3, 2]);
    expect(log.body.deliveries[0]).toMatchObject({ status_code: 500, report_id: payload.report_id });

    // Neither the unmatched rule nor the other user's got anything, and no try is left to come.
    expect(receiver.received.filter((r) => r.path === '/never' || r.path === '/other')).toEqual([]);
    expect((await api().get(`/api/webhooks/${unmatched.body.id}/deliveries`).expect(200)).body.total).toBe(0);

    // The worker (the one that delivers) counted every try by outcome: the four tries above (a try is counted
    // right after its log row and rule update, so the page is read until it has all four).
    let tries: Record<string, number> = {};
    await waitUntil(
      async () => {
        const samples = parsePrometheusText(await (await fetch(workerMetrics)).text());
        tries = Object.fromEntries(
          samples
            .filter((s) => s.name === 'nso_webhook_deliveries_total')
            .map((s) => [s.labels.outcome, s.value]),
        );
        return Object.values(tries).reduce((sum, n) => sum + n, 0) >= 4;
      },
      5_000,
      'four webhook tries counted',
    );
    expect(tries).toEqual({ delivered: 1, failed: 2, disabled: 1, refused: 0, skipped: 0 });

    // Switching the rule on again clears its failure state.
    const again = await api().put(`/api/webhooks/${failingId}`).send({ is_active: true }).expect(200);
    expect(again.body).toMatchObject({ is_active: true, consecutive_failures: 0, disabled_reason: null });
  });
});
