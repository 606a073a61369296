import { BadRequestException, NotFoundException } from '@nestjs/common';
import { loadConfig } from '@nso/config';
import type {
  WebhookDeliveryLogRow,
  WebhookRepository,
  WebhookRule,
  WebhookRuleInput,
  WebhookRulePatch,
} from '@nso/persistence';
import { MAX_WEBHOOKS_PER_USER, NO_ANSWER, WebhooksService } from './webhooks.service';

/** webhook_rules and webhook_deliveries in memory, and which scans each user owns. */
class FakeWebhookRepository {
  rules: WebhookRule[] = [];
  log: WebhookDeliveryLogRow[] = [];
  scans = new Map<number, number>([
    [3, 1],
    [4, 1],
    [9, 2],
  ]);
  private nextId = 1;

  async create(input: WebhookRuleInput, max: number): Promise<WebhookRule | null> {
    if (this.rules.filter((r) => ownerOf(r) === input.ownerId).length >= max) return null;
    const now = new Date('2026-12-01T00:00:00Z');
    const rule = {
      id: this.nextId++,
      owner: { id: input.ownerId },
      url: input.url,
      secret: input.secret,
      isActive: input.isActive,
      filter: input.filter,
      consecutiveFailures: 0,
      disabledReason: null,
      createdAt: now,
      updatedAt: now,
    } as unknown as WebhookRule;
    this.rules.push(rule);
    return rule;
  }
  async listOfOwner(ownerId: number) {
    return this.rules.filter((r) => ownerOf(r) === ownerId);
  }
  async findOwned(ownerId: number, id: number) {
    return this.rules.find((r) => r.id === id && ownerOf(r) === ownerId) ?? null;
  }
  async update(id: number, patch: WebhookRulePatch) {
    const rule = this.rules.find((r) => r.id === id);
    return rule ? Object.assign(rule, patch, { updatedAt: new Date() }) : null;
  }
  async remove(id: number) {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    this.log = this.log.filter((row) => row.ruleId !== id);
    return this.rules.length < before;
  }
  async deliveries(ruleId: number, page: { limit: number; offset: number }) {
    const rows = this.log.filter((row) => row.ruleId === ruleId).sort((a, b) => b.id - a.id);
    return { rows: rows.slice(page.offset, page.offset + page.limit), total: rows.length };
  }
  async ownScanIds(ownerId: number, ids: readonly number[]) {
    return ids.filter((id) => this.scans.get(id) === ownerId);
  }
}

const ownerOf = (rule: WebhookRule) => (rule.owner as unknown as { id: number }).id;

function setup() {
  const repo = new FakeWebhookRepository();
  const config = loadConfig({ WEBHOOK_ALLOW: '127.0.0.0/8' });
  const service = new WebhooksService(repo as unknown as WebhookRepository, config);
  return { repo, service };
}

const URL_OK = 'http://127.0.0.1:9000/hook';

describe('WebhooksService', () => {
  it('stores a rule with its filter in canonical form and never shows the secret', async () => {
    const { repo, service } = setup();
    const dto = await service.create(1, {
      url: URL_OK,
      secret: 'k',
      kinds: ['added_ports', 'added_ports'],
      ports: [443, 22, 22],
      host_cidrs: [' 127.0.0.0/24 ', '::1'],
      scan_ids: [4, 3],
    });
    expect(dto).toMatchObject({
      id: 1,
      url: URL_OK,
      has_secret: true,
      is_active: true,
      kinds: ['added_ports'],
      ports: [22, 443],
      protocols: [],
      host_cidrs: ['127.0.0.0/24', '::1'],
      scan_ids: [3, 4],
      consecutive_failures: 0,
      disabled_reason: null,
    });
    expect(dto).not.toHaveProperty('secret');
    expect(repo.rules[0]!.secret).toBe('k');
  });

  it.each([
    [{ url: 'http://10.0.0.1/' }, /outside WEBHOOK_ALLOW/],
    [{ url: URL_OK, host_cidrs: ['127.0.0.1/8'] }, /^host_cidrs: "127\.0\.0\.1\/8"/],
    [{ url: URL_OK, scan_ids: [3, 9] }, 'scan_ids: no scan of yours with id 9'],
  ])('refuses %j with a 400 that says why, storing nothing', async (input, error) => {
    const { repo, service } = setup();
    const refusal = await service.create(1, input).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(BadRequestException);
    expect((refusal as BadRequestException).getResponse()).toEqual({ error: expect.stringMatching(error) });
    expect(repo.rules).toEqual([]);
  });

  it(`refuses rule ${MAX_WEBHOOKS_PER_USER + 1} of one user, not another user's first`, async () => {
    const { service } = setup();
    for (let i = 0; i < MAX_WEBHOOKS_PER_USER; i++) await service.create(1, { url: URL_OK });
    await expect(service.create(1, { url: URL_OK })).rejects.toMatchObject({
      response: { error: `At most ${MAX_WEBHOOKS_PER_USER} webhooks per user` },
    });
    await expect(service.create(2, { url: URL_OK })).resolves.toMatchObject({ url: URL_OK });
  });

  it("answers 404 for another user's rule as for a missing one", async () => {
    const { repo, service } = setup();
    const { id } = await service.create(1, { url: URL_OK });
    for (const call of [
      () => service.one(2, id),
      () => service.update(2, id, { is_active: false }),
      () => service.remove(2, id),
      () => service.deliveries(2, id, {}),
      () => service.one(1, 99),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(NotFoundException);
    }
    expect(repo.rules).toHaveLength(1);
  });

  it('updates only what is sent; switching a disabled rule on clears its failures', async () => {
    const { repo, service } = setup();
    const { id } = await service.create(1, { url: URL_OK, secret: 'k', ports: [22] });
    Object.assign(repo.rules[0]!, {
      isActive: false,
      consecutiveFailures: 10,
      disabledReason: 'disabled after 10',
    });

    const paused = await service.update(1, id, { protocols: ['tcp'] });
    expect(paused).toMatchObject({ is_active: false, ports: [22], protocols: ['tcp'], has_secret: true });
    expect(paused.consecutive_failures).toBe(10);

    const on = await service.update(1, id, { is_active: true, secret: null });
    expect(on).toMatchObject({
      is_active: true,
      consecutive_failures: 0,
      disabled_reason: null,
      has_secret: false,
    });
    await expect(service.update(1, id, { url: 'http://10.0.0.1/' })).rejects.toBeInstanceOf(
      BadRequestException,
    );
    expect(repo.rules[0]!.url).toBe(URL_OK);
  });

  it('deletes a rule with its delivery log', async () => {
    const { repo, service } = setup();
    const { id } = await service.create(1, { url: URL_OK });
    await expect(service.remove(1, id)).resolves.toEqual({ status: 'success', message: 'Webhook deleted' });
    expect(repo.rules).toEqual([]);
    await expect(service.one(1, id)).rejects.toBeInstanceOf(NotFoundException);
  });

  it('lists tries newest first and hides a network error from anyone but an admin', async () => {
    const { repo, service } = setup();
    const { id } = await service.create(1, { url: URL_OK });
    const row = (n: number, statusCode: number | null, error: string | null): WebhookDeliveryLogRow => ({
      id: n,
      ruleId: id,
      reportId: 5,
      deliveryId: `${id}-5`,
      attempt: n,
      statusCode,
      error,
      durationMs: 12,
      deliveredAt: new Date(Date.UTC(2026, 11, 1, 0, n)),
    });
    repo.log = [
      row(1, null, 'connect ECONNREFUSED 127.0.0.1:9000'),
      row(2, null, `${URL_OK}: 127.0.0.1 is outside WEBHOOK_ALLOW`),
      row(3, 500, null),
    ];
    const mine = await service.deliveries(1, id, {});
    expect(mine.deliveries.map((d) => [d.attempt, d.status_code, d.error])).toEqual([
      [3, 500, null],
      [2, null, `${URL_OK}: 127.0.0.1 is outside WEBHOOK_ALLOW`],
      [1, null, NO_ANSWER],
    ]);
    expect(mine).toMatchObject({ total: 3, page: 1 });
    expect(mine.deliveries[0]).toEqual({
      id: 3,
      delivery_id: `${id}-5`,
      report_id: 5,
      attempt: 3,
      status_code: 500,
      error: null,
      duration_ms: 12,
      delivered_at: '2026-12-01T00:03:00.000Z',
    });
    const admin = await service.deliveries(1, id, {}, true);
    expect(admin.deliveries[2]!.error).toBe('connect ECONNREFUSED 127.0.0.1:9000');
  });
});
