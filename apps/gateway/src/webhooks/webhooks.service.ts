// A user's webhook rules (docs/notifications.md "Webhooks"): checked here, stored by WebhookRepository.
import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@nso/config';
import { canonicalCidr } from '@nso/nmap';
import {
  WebhookRepository,
  type WebhookFilter,
  type WebhookRule,
  type WebhookRulePatch,
} from '@nso/persistence';
import { checkWebhookDestination } from '@nso/webhooks';
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
    private readonly webhooks: WebhookRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * A new rule, within MAX_WEBHOOKS_PER_USER however many creates run at once on however many gateways (the
   * count and the insert are one transaction, WebhookRepository.create). Errors: 400 a destination
   * WEBHOOK_ALLOW refuses (naming the URL), a malformed host_cidrs entry, a scan not the user's, the 101st rule.
   */
  async create(ownerId: number, input: CreateWebhookDto): Promise<WebhookDto> {
    await this.checkUrl(input.url);
    const filter = await this.filterOf(ownerId, input, {});
    const rule = await this.webhooks.create(
      { ownerId, url: input.url, secret: input.secret ?? null, isActive: input.is_active ?? true, filter },
      MAX_WEBHOOKS_PER_USER,
    );
    if (!rule) throw new BadRequestException({ error: `At most ${MAX_WEBHOOKS_PER_USER} webhooks per user` });
    return view(rule);
  }

  /** The user's rules, oldest first. */
  async list(ownerId: number): Promise<WebhookDto[]> {
    return (await this.webhooks.listOfOwner(ownerId)).map(view);
  }

  /** One of the user's rules; 404 for another user's as for a missing one. */
  async one(ownerId: number, id: number): Promise<WebhookDto> {
    return view(await this.owned(ownerId, id));
  }

  /**
   * Partial: fields not sent keep their values; `secret: null` removes the secret. Switching a rule on again
   * (`is_active: true`) clears its failure count and disabled_reason. Errors: 404 as for `one`, 400 as for create.
   */
  async update(ownerId: number, id: number, input: UpdateWebhookDto): Promise<WebhookDto> {
    const rule = await this.owned(ownerId, id);
    const patch: WebhookRulePatch = {};
    if (input.url !== undefined) {
      await this.checkUrl(input.url);
      patch.url = input.url;
    }
    if (input.secret !== undefined) patch.secret = input.secret;
    if (input.is_active !== undefined) {
      if (input.is_active && !rule.isActive) {
        patch.consecutiveFailures = 0;
        patch.disabledReason = null;
      }
      patch.isActive = input.is_active;
    }
    patch.filter = await this.filterOf(ownerId, input, rule.filter);
    const updated = await this.webhooks.update(id, patch);
    if (!updated) throw notFound();
    return view(updated);
  }

  /** Deletes one of the user's rules and its delivery log; 404 as for `one`. */
  async remove(ownerId: number, id: number): Promise<{ status: 'success'; message: string }> {
    await this.owned(ownerId, id);
    if (!(await this.webhooks.remove(id))) throw notFound();
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
    const { rows, total } = await this.webhooks.deliveries(id, window);
    const deliveries: WebhookDeliveryDto[] = rows.map((row) => ({
      id: row.id,
      delivery_id: row.deliveryId,
      report_id: row.reportId,
      attempt: row.attempt,
      status_code: row.statusCode,
      error: shownError(row.error),
      duration_ms: row.durationMs,
      delivered_at: row.deliveredAt.toISOString(),
    }));
    return { deliveries, ...pageFields(total, window) };
  }

  private async owned(ownerId: number, id: number): Promise<WebhookRule> {
    const rule = await this.webhooks.findOwned(ownerId, id);
    if (!rule) throw notFound();
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
    if (input.include_unconfirmed !== undefined) filter.include_unconfirmed = input.include_unconfirmed;
    if (input.exposures !== undefined) filter.exposures = [...new Set(input.exposures)];
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
      const found = new Set(await this.webhooks.ownScanIds(ownerId, ids));
      const unknown = ids.filter((id) => !found.has(id));
      if (unknown.length)
        throw new BadRequestException({ error: `scan_ids: no scan of yours with id ${unknown.join(', ')}` });
      filter.scan_ids = ids.sort((a, b) => a - b);
    }
    return filter;
  }
}

const notFound = () => new NotFoundException({ error: 'Webhook not found' });

/** A rule as answers show it: the secret is never returned. */
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
    include_unconfirmed: rule.filter.include_unconfirmed ?? false,
    exposures: rule.filter.exposures ?? [],
    consecutive_failures: rule.consecutiveFailures,
    disabled_reason: rule.disabledReason,
    created_at: rule.createdAt.toISOString(),
    updated_at: rule.updatedAt.toISOString(),
  };
}
