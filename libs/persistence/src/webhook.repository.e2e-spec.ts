// WebhookRepository and the clients writes of ClientRepository against both databases: the rule limit under
// parallel creates, the delivery reads and the failure count, a pool's registration and an agent's enrolment.
import { createTestDatabase, TEST_DATABASES, type TestDatabase } from '../../../test/support/database';
import { ClientRepository } from './client.repository';
import { insertDeltaReport } from './delta-report.repository';
import { Client } from './entities';
import { knexOf } from './sql';
import { createRun } from './testing/factories';
import { WebhookRepository } from './webhook.repository';

describe.each(TEST_DATABASES)('WebhookRepository and ClientRepository on %s', (kind) => {
  let db: TestDatabase;
  let webhooks: WebhookRepository;
  let clients: ClientRepository;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    webhooks = new WebhookRepository(db.orm.em);
    clients = new ClientRepository(db.orm.em);
  });

  afterAll(async () => {
    await db?.cleanup();
  });

  it('keeps an owner within the rule limit however many creates run at once', async () => {
    const { user } = await createRun(db.orm.em.fork());
    const input = {
      ownerId: user.id,
      url: 'http://127.0.0.1:9000/',
      secret: null,
      isActive: true,
      filter: {},
    };
    const created = await Promise.all(Array.from({ length: 8 }, () => webhooks.create(input, 5)));
    expect(created.filter((rule) => rule !== null)).toHaveLength(5);
    expect(await webhooks.listOfOwner(user.id)).toHaveLength(5);
  });

  it('reads what a delivery needs, logs tries, and switches a rule off at the limit once', async () => {
    const { user, scan, result } = await createRun(db.orm.em.fork());
    const rule = (await webhooks.create(
      {
        ownerId: user.id,
        url: 'http://127.0.0.1:9000/',
        secret: 'k',
        isActive: true,
        filter: { ports: [22] },
      },
      100,
    ))!;
    const reportId = (await insertDeltaReport(
      knexOf(db.orm.em),
      {
        scan_id: scan.id,
        baseline_result_id: result.id,
        current_result_id: result.id,
        new_ports_count: 2,
        closed_ports_count: 0,
        changed_services_count: 0,
        new_hosts_count: 0,
        removed_hosts_count: 0,
        has_changes: true,
        delta_data: {},
      },
      [22, 80].map((port, i) => ({
        seq: i + 1,
        kind: 'added_port',
        address: '127.0.0.1',
        protocol: 'tcp',
        port,
        before: null,
        after: { state: 'open' },
        detail: null,
      })),
    ))!;

    await expect(webhooks.activeRulesOfScanOwner(scan.id)).resolves.toEqual([
      { id: rule.id, filter: { ports: [22] } },
    ]);
    await expect(webhooks.ruleForDelivery(rule.id)).resolves.toEqual({
      id: rule.id,
      ownerId: user.id,
      url: 'http://127.0.0.1:9000/',
      secret: 'k',
      isActive: true,
      filter: { ports: [22] },
    });
    await expect(webhooks.reportForDelivery(reportId)).resolves.toMatchObject({
      id: reportId,
      scanId: scan.id,
      scanName: scan.name,
      newPortsCount: 2,
      hasChanges: true,
    });
    // Stored without issue-21 marks: not verified, not flapping, no exposure.
    const unmarked = { verification: null, flapping: false, exposure: null };
    await expect(webhooks.changesToMatch(reportId, 10)).resolves.toEqual([
      { kind: 'added_port', address: '127.0.0.1', protocol: 'tcp', port: 22, ...unmarked },
      { kind: 'added_port', address: '127.0.0.1', protocol: 'tcp', port: 80, ...unmarked },
    ]);
    await expect(webhooks.changesAfter(reportId, 1, 10)).resolves.toEqual([
      expect.objectContaining({ seq: 2, port: 80, before: null, after: { state: 'open' } }),
    ]);

    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    for (const attempt of [1, 2]) {
      await webhooks.logTry({
        ruleId: rule.id,
        reportId,
        deliveryId: `${rule.id}-${reportId}`,
        attempt,
        statusCode: attempt === 1 ? null : 500,
        error: attempt === 1 ? 'connect ECONNREFUSED' : null,
        durationMs: 7,
        deliveredAt: at,
      });
    }
    const page = await webhooks.deliveries(rule.id, { limit: 1, offset: 0 });
    expect(page.total).toBe(2);
    expect(page.rows).toEqual([
      expect.objectContaining({ attempt: 2, statusCode: 500, error: null, durationMs: 7 }),
    ]);
    expect(page.rows[0]!.deliveredAt.getTime()).toBe(at.getTime());

    await expect(webhooks.deliveryFailed(rule.id, 2, 'first')).resolves.toBe(false);
    await expect(webhooks.deliveryFailed(rule.id, 2, 'second')).resolves.toBe(true);
    await expect(webhooks.deliveryFailed(rule.id, 2, 'third')).resolves.toBe(false);
    await expect(webhooks.findOwned(user.id, rule.id)).resolves.toMatchObject({
      isActive: false,
      consecutiveFailures: 3,
      disabledReason: 'second',
    });
    const on = await webhooks.update(rule.id, {
      isActive: true,
      consecutiveFailures: 0,
      disabledReason: null,
    });
    expect(on).toMatchObject({ isActive: true, consecutiveFailures: 0 });
    await webhooks.deliverySucceeded(rule.id);
    await expect(webhooks.activeRulesOfScanOwner(scan.id)).resolves.toHaveLength(1);

    await expect(webhooks.remove(rule.id)).resolves.toBe(true);
    expect((await webhooks.deliveries(rule.id, { limit: 10, offset: 0 })).total).toBe(0);
    await expect(webhooks.findOwned(user.id, rule.id)).resolves.toBeNull();
  });

  it('enrols an agent once however many first heartbeats race', async () => {
    const now = new Date();
    const fields = { hostname: 'a', ipAddress: '127.0.0.2', port: 8080, scanRange: ['127.0.0.0/24'] };
    const enrolled = await Promise.all(
      Array.from({ length: 4 }, () => clients.enrolAgent(`race-${kind}`, fields, now)),
    );
    expect(enrolled.filter((e) => e?.created)).toHaveLength(1);
    expect(new Set(enrolled.map((e) => e?.client.id)).size).toBe(1);
  });

  it('registers a pool, refreshes it, takes over an unapproved agent and leaves an approved one alone', async () => {
    const beat = (clientId: string) => ({
      clientId,
      now: new Date(),
      scanRange: ['127.0.0.0/8'],
      hostname: 'w1',
      activeScans: 1,
      autoApprove: false,
    });
    await expect(clients.registerPool(beat('pool-a'))).resolves.toMatchObject({
      kind: 'created',
      client: { clientId: 'pool-a', kind: 'pool', isApproved: false, status: 'scanning' },
    });
    await expect(clients.registerPool(beat('pool-a'))).resolves.toEqual({ kind: 'refreshed' });

    const em = db.orm.em.fork();
    em.create(Client, { clientId: 'held', kind: 'agent', scanRange: [], sourceIp: '127.0.0.9' });
    em.create(Client, { clientId: 'approved', kind: 'agent', scanRange: [], isApproved: true });
    await em.flush();
    await expect(clients.registerPool(beat('held'))).resolves.toMatchObject({
      kind: 'taken-over',
      holder: { sourceIp: '127.0.0.9' },
    });
    await expect(clients.findByClientId('held')).resolves.toMatchObject({ kind: 'pool', sourceIp: null });
    await expect(clients.registerPool(beat('approved'))).resolves.toEqual({ kind: 'held-by-agent' });
    await expect(clients.findByClientId('approved')).resolves.toMatchObject({ kind: 'agent' });
  });
});
