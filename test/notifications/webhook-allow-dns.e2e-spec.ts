// WEBHOOK_ALLOW with a host name resolved by the system resolver (getaddrinfo, so /etc/hosts): `localhost`
// resolves to loopback only, so a loopback list (the test sets WEBHOOK_ALLOW to loopback; the default is empty) takes it at save and delivers to it, and a narrower
// list (127.0.0.2/32) refuses it at save and at delivery. The only names looked up are local ones, and the only
// connections made are to the receiver on loopback. The reports are stored directly (nothing is scanned) and
// queued through the same WebhookJobs the delta service uses; real gateway and worker processes deliver or refuse.
// The allow-list does not depend on the database (webhooks.e2e-spec.ts covers both), so this runs on SQLite.
import { getQueueToken } from '@nestjs/bullmq';
import { EntityManager } from '@mikro-orm/core';
import { WEBHOOK_QUEUE, webhookDeliveryJobId } from '@nso/contracts';
import { WebhookJobs } from '@nso/webhooks';
import { insertDeltaReport, knexOf } from '@nso/persistence/testing';
import type { Queue } from 'bullmq';
import { BlockList } from 'node:net';
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { TEST_ADMIN } from '../support/gateway';
import { waitUntil } from '../support/nmap-processes';
import { nmapXml } from '../support/nmap-xml';
import { AppProcess, freePort, startProcess } from '../support/processes';
import { parsePrometheusText } from '../support/prometheus-text';
import { startSystem, TestSystem } from '../support/system';

/** A receiver on one port of 127.0.0.1 and, where the host has it, of ::1: `localhost` may resolve to either. */
async function startLoopbackReceiver(): Promise<{
  port: number;
  received: Array<{ path: string; host: string | undefined }>;
  close(): Promise<void>;
}> {
  const received: Array<{ path: string; host: string | undefined }> = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      received.push({ path: req.url ?? '', host: req.headers.host });
      res.writeHead(204).end();
    });
  };
  const listen = (server: Server, host: string, port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  const v4 = createServer(handle);
  await listen(v4, '127.0.0.1', 0);
  const { port } = v4.address() as AddressInfo;
  const servers = [v4];
  const v6 = createServer(handle);
  try {
    await listen(v6, '::1', port);
    servers.push(v6);
  } catch {
    // No ::1 here (or the port is taken on it): then `localhost` does not resolve to ::1 either, or the
    // delivery's refused connection shows in the test's failure.
  }
  return {
    port,
    received,
    close: async () => {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

describe('WEBHOOK_ALLOW against the system resolver (localhost)', () => {
  let system: TestSystem;
  let receiver: Awaited<ReturnType<typeof startLoopbackReceiver>>;
  let narrowGateway: AppProcess | undefined;
  let scanId: number;
  const resultIds: number[] = [];
  let ruleId: number;
  const hookUrl = () => `http://localhost:${receiver.port}/dns`;

  /** Stores a report between two of the imported runs, with one added port, and queues its deliveries. */
  const storeReport = async (baseline: number, current: number): Promise<number> => {
    const knex = knexOf(system.gateway.app.get(EntityManager));
    const summary = {
      new_ports_count: 1,
      closed_ports_count: 0,
      changed_services_count: 0,
      new_hosts_count: 0,
      removed_hosts_count: 0,
      has_changes: true,
    };
    const reportId = await insertDeltaReport(
      knex,
      {
        scan_id: scanId,
        baseline_result_id: baseline,
        current_result_id: current,
        ...summary,
        delta_data: { scanner: { name: 'test' }, baseline: {}, current: {}, summary },
      },
      [
        {
          seq: 1,
          kind: 'added_port',
          address: '127.0.53.1',
          protocol: 'tcp',
          port: 8080 + current,
          before: null,
          after: { state: 'open', service: 'http-proxy' },
          detail: null,
        },
      ],
    );
    const queued = await system.gateway.app.get(WebhookJobs).reportStored({ reportId: reportId!, scanId });
    expect(queued).toEqual([ruleId]);
    return reportId!;
  };

  const triesOf = async (metricsUrl: string) =>
    Object.fromEntries(
      parsePrometheusText(await (await fetch(metricsUrl)).text())
        .filter((s) => s.name === 'nso_webhook_deliveries_total')
        .map((s) => [s.labels.outcome, s.value]),
    );

  beforeAll(async () => {
    // The gateway in this process keeps the default list (loopback); workers come per test.
    system = await startSystem({
      database: 'sqlite',
      workers: 0,
      env: { WEBHOOK_ALLOW: '127.0.0.0/8,::1/128', WEBHOOK_RETRY_BASE_MS: '50' },
    });
    receiver = await startLoopbackReceiver();
    const scan = await system.gateway
      .api()
      .post('/api/scans')
      .send({
        verify_changes: false,
        name: 'DNS hooks',
        target: '127.0.53.1',
        ports: '22',
        scan_arguments: '-sT -Pn -n',
      })
      .expect(201);
    scanId = scan.body.scan.id;
    const xml = nmapXml('nmap -sT -Pn -n -p 22 -oX - 127.0.53.1', [
      { address: '127.0.53.1', state: 'up', ports: [{ protocol: 'tcp', port: 22, state: 'open' }] },
    ]);
    for (let i = 0; i < 3; i++) {
      const imported = await system.gateway
        .api()
        .post(`/api/scans/${scanId}/results/import`)
        .set('Content-Type', 'application/xml')
        .send(xml)
        .expect(201);
      resultIds.push(imported.body.result_id);
    }
  }, 60_000);

  afterAll(async () => {
    await narrowGateway?.stop('SIGTERM');
    await receiver?.close();
    await system?.close();
  });

  it('takes `localhost` at save, since every address it resolves to is loopback, and delivers to it', async () => {
    const addresses = await lookup('localhost', { all: true, verbatim: true });
    expect(addresses.length).toBeGreaterThan(0);
    for (const { address, family } of addresses) {
      expect({ address, loopback: LOOPBACK.check(address, family === 6 ? 'ipv6' : 'ipv4') }).toEqual({
        address,
        loopback: true,
      });
    }

    const metricsPort = await freePort();
    const wide = await system.startWorker('wide', { METRICS_PORT: String(metricsPort) });
    const created = await system.gateway.api().post('/api/webhooks').send({ url: hookUrl() }).expect(201);
    ruleId = created.body.id;
    const reportId = await storeReport(resultIds[0], resultIds[1]);

    await waitUntil(() => receiver.received.length > 0, 15_000, 'the delivery to localhost');
    // The name stays the Host; the connection went to the checked address.
    expect(receiver.received).toEqual([{ path: '/dns', host: `localhost:${receiver.port}` }]);
    const log = await system.gateway.api().get(`/api/webhooks/${ruleId}/deliveries`).expect(200);
    expect(log.body.deliveries).toEqual([
      expect.objectContaining({ report_id: reportId, attempt: 1, status_code: 204, error: null }),
    ]);
    await waitUntil(
      async () => (await triesOf(`http://127.0.0.1:${metricsPort}/metrics`)).delivered === 1,
      5_000,
      'the delivered try counted',
    );
    await wide.stop('SIGTERM');
  });

  it('refuses `localhost` at save and at delivery when WEBHOOK_ALLOW is 127.0.0.2/32', async () => {
    const narrow = { WEBHOOK_ALLOW: '127.0.0.2/32' };
    const port = await freePort();
    narrowGateway = startProcess('gateway', {
      ...system.env,
      ...narrow,
      PORT: String(port),
      ADMIN_USERNAME: TEST_ADMIN.username,
      ADMIN_PASSWORD: TEST_ADMIN.password,
    });
    await narrowGateway.waitForOutput(/API listening on/);
    const gateway = `http://127.0.0.1:${port}`;
    const admin = system.gateway.admin.auth;

    // At save: localhost resolves to 127.0.0.1 (and maybe ::1), outside the list. Nothing is contacted.
    const refused = await request(gateway)
      .post('/api/webhooks')
      .set(admin)
      .send({ url: hookUrl() })
      .expect(400);
    expect(refused.body.error).toMatch(
      new RegExp(`^${hookUrl().replace(/[.?]/g, '\\$&')}: localhost resolves to \\S+, outside WEBHOOK_ALLOW`),
    );
    await request(gateway).put(`/api/webhooks/${ruleId}`).set(admin).send({ url: hookUrl() }).expect(400);
    // An address inside the narrow list is taken (saving contacts nothing), so the list in force is the narrow one.
    const inside = await request(gateway)
      .post('/api/webhooks')
      .set(admin)
      .send({ url: `http://127.0.0.2:${receiver.port}/never`, is_active: false })
      .expect(201);
    await request(gateway).delete(`/api/webhooks/${inside.body.id}`).set(admin).expect(200);

    // At delivery: the rule saved under the wide list is checked again by a worker with the narrow one.
    const metricsPort = await freePort();
    await system.startWorker('narrow', { ...narrow, METRICS_PORT: String(metricsPort) });
    const reportId = await storeReport(resultIds[1], resultIds[2]);
    const queue = system.gateway.app.get<Queue>(getQueueToken(WEBHOOK_QUEUE));
    const job = (await queue.getJob(webhookDeliveryJobId(ruleId, reportId)))!;
    let state = '';
    await waitUntil(
      async () => ['failed', 'completed'].includes((state = await job.getState())),
      15_000,
      'the delivery job ending',
    );
    expect(state).toBe('failed');
    const failed = (await queue.getJob(job.id!))!;
    // Refused once, not retried (an allow-list refusal is UnrecoverableError), and nothing was sent.
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toContain('outside WEBHOOK_ALLOW');
    expect(receiver.received).toHaveLength(1);
    const log = await system.gateway.api().get(`/api/webhooks/${ruleId}/deliveries`).expect(200);
    expect(log.body.total).toBe(2);
    expect(log.body.deliveries[0]).toMatchObject({ report_id: reportId, attempt: 1, status_code: null });
    expect(log.body.deliveries[0].error).toMatch(/localhost resolves to \S+, outside WEBHOOK_ALLOW/);
    expect(await triesOf(`http://127.0.0.1:${metricsPort}/metrics`)).toEqual({
      delivered: 0,
      failed: 0,
      refused: 1,
      disabled: 0,
      skipped: 0,
    });
  });
});
