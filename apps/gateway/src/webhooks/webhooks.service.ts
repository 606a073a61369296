import { EntityManager } from '@mikro-orm/core';
import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@nso/config';
import { checkWebhookDestination } from '@nso/events';
import { canonicalCidr } from '@nso/nmap';
import { knexOf, Scan, User, WebhookRule, type WebhookFilter } from '@nso/persistence';
import { pageFields, pageWindow } from '../common/pagination';
import {
  CreateWebhookDto,
  UpdateWebhookDto,
  WebhookDeliveriesQuery,
  WebhookDeliveryDto,
  WebhookDto,
} from './webhooks.dto';

/** What a user who is not an admin sees of a try that got no HTTP answer. */
export const NO_ANSWER = 'no HTTP answer (connection failed or timed out)';

/** Rules one user may have: every report with changes is matched against each of them. */
export const MAX_WEBHOOKS_PER_USER = 100;

/** A user's webhook rules (docs/notifications.md "Webhooks"). Another user's rule is a 404, as a missing one. */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly em: EntityManager,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * A new rule, within MAX_WEBHOOKS_PER_USER however many creates run at once on however many gateways: the
   * count and the insert are one transaction that first locks the owner's user row (a write, so SQLite takes
   * its write lock too), so parallel creates of one user queue behind each other and the 101st is a 400.
   */
  async create(ownerId: number, input: CreateWebhookDto): Promise<WebhookDto> {
    await this.checkUrl(input.url);
    const filter = await this.filterOf(ownerId, input, {});
    const rule = await this.em.fork().transactional(async (em) => {
      await em.nativeUpdate(User, { id: ownerId }, { id: ownerId });
      if ((await em.count(WebhookRule, { owner: ownerId })) >= MAX_WEBHOOKS_PER_USER) {
        throw new BadRequestException({ error: `At most ${MAX_WEBHOOKS_PER_USER} webhooks per user` });
      }
      return em.create(WebhookRule, {
        owner: em.getReference(User, ownerId),
        url: input.url,
        secret: input.secret ?? null,
        isActive: input.is_active ?? true,
        filter,
      });
    });
    return view(rule);
  }

  async list(ownerId: number): Promise<WebhookDto[]> {
    const rules = await this.em.find(WebhookRule, { owner: ownerId }, { orderBy: { id: 'asc' } });
    return rules.map(view);
  }

  async one(ownerId: number, id: number): Promise<WebhookDto> {
    return view(await this.owned(ownerId, id));
  }

  /**
   * Partial: fields not sent keep their values; `secret: null` removes the secret. Switching a rule on again
   * (`is_active: true`) clears its failure count and disabled_reason.
   */
  async update(ownerId: number, id: number, input: UpdateWebhookDto): Promise<WebhookDto> {
    const rule = await this.owned(ownerId, id);
    if (input.url !== undefined) {
      await this.checkUrl(input.url);
      rule.url = input.url;
    }
    if (input.secret !== undefined) rule.secret = input.secret;
    if (input.is_active !== undefined) {
      if (input.is_active && !rule.isActive) {
        rule.consecutiveFailures = 0;
        rule.disabledReason = null;
      }
      rule.isActive = input.is_active;
    }
    rule.filter = await this.filterOf(ownerId, input, rule.filter);
    rule.updatedAt = new Date();
    await this.em.flush();
    return view(rule);
  }

  async remove(ownerId: number, id: number): Promise<{ status: 'success'; message: string }> {
    const rule = await this.owned(ownerId, id);
    await this.em.remove(rule).flush();
    return { status: 'success', message: 'Webhook deleted' };
  }

  /**
   * The rule's delivery log, newest first, paginated (default 20 a page). A try without an HTTP answer shows its
   * network error (ECONNREFUSED, socket hang up, a timeout) to admins only: to anyone else it is one generic
   * reason, so the log cannot tell a closed port from a silent one (docs/notifications.md "Safe by default").
   * A refusal of the destination check names the rule's URL and is shown as it is.
   */
  async deliveries(ownerId: number, id: number, query: WebhookDeliveriesQuery, isAdmin = false) {
    const rule = await this.owned(ownerId, id);
    const shownError = (error: string | null): string | null =>
      error === null || isAdmin || error.startsWith(rule.url) || error.startsWith('Webhooks are off')
        ? error
        : NO_ANSWER;
    const window = pageWindow(query, 20);
    const knex = knexOf(this.em);
    const [{ n }] = await knex('webhook_deliveries').where('rule_id', id).count({ n: '*' });
    const rows = await knex('webhook_deliveries')
      .where('rule_id', id)
      .orderBy('id', 'desc')
      .limit(window.limit)
      .offset(window.offset);
    const deliveries: WebhookDeliveryDto[] = rows.map((row) => ({
      id: Number(row.id),
      delivery_id: String(row.delivery_id),
      report_id: Number(row.report_id),
      attempt: Number(row.attempt),
      status_code: row.status_code === null ? null : Number(row.status_code),
      error: shownError(row.error ?? null),
      duration_ms: Number(row.duration_ms),
      delivered_at: new Date(row.delivered_at).toISOString(),
    }));
    return { deliveries, ...pageFields(Number(n), window) };
  }

  private async owned(ownerId: number, id: number): Promise<WebhookRule> {
    const rule = await this.em.findOne(WebhookRule, { id, owner: ownerId });
    if (!rule) throw new NotFoundException({ error: 'Webhook not found' });
    return rule;
  }

  /** WEBHOOK_ALLOW at save: a refused destination is a 400 that names the URL and says why. */
  private async checkUrl(url: string): Promise<void> {
    const destination = await checkWebhookDestination(url, this.config.webhooks);
    if (!destination.ok) throw new BadRequestException({ error: destination.reason });
  }

  /** The stored filter after applying `input` over `current`; CIDRs must parse, scans must be the user's. */
  private async filterOf(
    ownerId: number,
    input: UpdateWebhookDto,
    current: WebhookFilter,
  ): Promise<WebhookFilter> {
    const filter: WebhookFilter = { ...current };
    if (input.kinds !== undefined) filter.kinds = [...new Set(input.kinds)];
    if (input.ports !== undefined) filter.ports = [...new Set(input.ports)].sort((a, b) => a - b);
    if (input.protocols !== undefined) filter.protocols = [...new Set(input.protocols)];
    if (input.host_cidrs !== undefined) {
      // Stored in canonical form, as the change addresses they are matched with; host bits set are refused as
      // scan_range and the scope refuse them.
      const cidrs: string[] = [];
      for (const raw of input.host_cidrs.map((c) => c.trim())) {
        const cidr = canonicalCidr(raw);
        if (typeof cidr !== 'string') {
          throw new BadRequestException({ error: `host_cidrs: "${raw}" ${cidr.problem}` });
        }
        cidrs.push(cidr);
      }
      filter.host_cidrs = [...new Set(cidrs)];
    }
    if (input.scan_ids !== undefined) {
      const ids = [...new Set(input.scan_ids)];
      const own = ids.length
        ? await this.em.find(Scan, { id: { $in: ids }, owner: ownerId }, { fields: ['id'] })
        : [];
      const found = new Set(own.map((s) => s.id));
      const unknown = ids.filter((id) => !found.has(id));
      if (unknown.length)
        throw new BadRequestException({ error: `scan_ids: no scan of yours with id ${unknown.join(', ')}` });
      filter.scan_ids = ids.sort((a, b) => a - b);
    }
    return filter;
  }
}

function view(rule: WebhookRule): WebhookDto {
  return {
    id: rule.id,
    url: rule.url,
    has_secret: rule.secret !== null && rule.secret !== '',
    is_active: rule.isActive,
    kinds: rule.filter.kinds ?? [],
    ports: rule.filter.ports ?? [],
    protocols: rule.filter.protocols ?? [],
    host_cidrs: rule.filter.host_cidrs ?? [],
    scan_ids: rule.filter.scan_ids ?? [],
    consecutive_failures: rule.consecutiveFailures,
    disabled_reason: rule.disabledReason,
    created_at: rule.createdAt.toISOString(),
    updated_at: rule.updatedAt.toISOString(),
  };
}
