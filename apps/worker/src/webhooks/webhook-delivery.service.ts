// Delivers one (rule, report) webhook: builds the payload from the stored rows, checks the destination again,
// POSTs it, logs the try, and keeps the rule's failure count (disabling it after WEBHOOK_DISABLE_AFTER).
import { EntityManager } from '@mikro-orm/core';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@nso/config';
import type { DeltaReportCounts } from '@nso/contracts';
import {
  buildWebhookPayload,
  checkWebhookDestination,
  compileWebhookFilter,
  jsonColumn,
  Notifier,
  WEBHOOK_MATCH_ROWS,
  WEBHOOK_MAX_CHANGES,
  webhookSignature,
  type WebhookPayloadChange,
} from '@nso/events';
import { Metrics, WEBHOOK_DELIVERY_OUTCOMES, type WebhookDeliveryOutcome } from '@nso/monitoring';
import { knexOf, type WebhookFilter } from '@nso/persistence';
import { postPinned, type PostOutcome } from './webhook-post';

/** One try of one delivery, as the consumer hands it over. */
export interface DeliveryTry {
  ruleId: number;
  reportId: number;
  /** X-NetScan-Delivery: the same on every try of the delivery. */
  deliveryId: string;
  /** 1-based. */
  attempt: number;
}

/**
 * What a try came to. `skipped`: the rule is gone or inactive (or the report gone), nothing was sent.
 * `failed`: `retry` says whether another try makes sense (not when the rule got disabled or the destination is
 * refused).
 */
export type DeliveryOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'skipped'; why: string }
  | { kind: 'failed'; reason: string; retry: boolean };

const PAGE = 1000;

@Injectable()
export class WebhookDeliveryService {
  private readonly logger = new Logger('WebhookDelivery');

  constructor(
    private readonly em: EntityManager,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly notifier: Notifier,
    private readonly metrics: Metrics,
  ) {
    // Every outcome is on the metrics page from the start, so a rate() over it needs no first event.
    for (const outcome of WEBHOOK_DELIVERY_OUTCOMES) metrics.webhookDeliveries.inc({ outcome }, 0);
  }

  /**
   * One try: what it came to (DeliveryOutcome), counted in nso_webhook_deliveries_total by outcome. Errors: a
   * database error rejects, uncounted (BullMQ retries the job).
   */
  async deliver(attempt: DeliveryTry): Promise<DeliveryOutcome> {
    const { outcome, metric } = await this.tryDelivery(attempt);
    this.metrics.webhookDeliveries.inc({ outcome: metric });
    return outcome;
  }

  private async tryDelivery(
    attempt: DeliveryTry,
  ): Promise<{ outcome: DeliveryOutcome; metric: WebhookDeliveryOutcome }> {
    const skipped = (why: string) => ({
      outcome: { kind: 'skipped' as const, why },
      metric: 'skipped' as const,
    });
    const knex = knexOf(this.em);
    const rule = await knex('webhook_rules').where('id', attempt.ruleId).first();
    if (!rule || !rule.is_active) return skipped(`rule ${attempt.ruleId} is gone or inactive`);
    const report = await knex('delta_reports').where('id', attempt.reportId).first();
    if (!report) return skipped(`report ${attempt.reportId} is gone`);
    const scan = await knex('scans').where('id', report.scan_id).first('name');

    const { changes, truncated } = await this.matchingChanges(
      attempt.reportId,
      jsonColumn<WebhookFilter>(rule.filter),
    );
    const summary: DeltaReportCounts = {
      new_ports_count: Number(report.new_ports_count),
      closed_ports_count: Number(report.closed_ports_count),
      changed_services_count: Number(report.changed_services_count),
      new_hosts_count: Number(report.new_hosts_count),
      removed_hosts_count: Number(report.removed_hosts_count),
      has_changes: Boolean(report.has_changes),
    };
    const body = JSON.stringify(
      buildWebhookPayload({
        reportId: Number(report.id),
        scanId: Number(report.scan_id),
        scanName: String(scan?.name ?? ''),
        baselineResultId: Number(report.baseline_result_id),
        currentResultId: Number(report.current_result_id),
        createdAt: new Date(report.created_at),
        summary,
        changes,
        truncated,
      }),
    );
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'NetScanOrchestrator-Webhook/1',
      'X-NetScan-Event': 'delta_report',
      'X-NetScan-Delivery': attempt.deliveryId,
    };
    if (rule.secret) headers['X-NetScan-Signature'] = webhookSignature(String(rule.secret), body);

    const started = performance.now();
    // Checked again now: the allow-list may have changed since the rule was saved, and the name may resolve to
    // something else today. The POST then connects to the address checked here.
    const destination = await checkWebhookDestination(String(rule.url), this.config.webhooks);
    let outcome: PostOutcome;
    if (!destination.ok) outcome = { error: destination.reason };
    else {
      outcome = await postPinned(
        destination.url,
        destination.address,
        destination.family,
        headers,
        body,
        this.config.webhooks.timeoutMs,
      );
    }
    const durationMs = Math.round(performance.now() - started);
    await knex('webhook_deliveries').insert({
      rule_id: attempt.ruleId,
      report_id: attempt.reportId,
      delivery_id: attempt.deliveryId,
      attempt: attempt.attempt,
      status_code: 'status' in outcome ? outcome.status : null,
      error: 'error' in outcome ? outcome.error.slice(0, 1000) : null,
      duration_ms: durationMs,
      delivered_at: new Date(),
    });
    if ('status' in outcome && outcome.status >= 200 && outcome.status < 300) {
      await knex('webhook_rules').where('id', attempt.ruleId).update({ consecutive_failures: 0 });
      return { outcome: { kind: 'delivered', status: outcome.status }, metric: 'delivered' };
    }
    const reason = 'status' in outcome ? `HTTP ${outcome.status}` : outcome.error;
    const disabled = await this.countFailure(attempt.ruleId, Number(rule.owner_id), reason);
    return {
      outcome: { kind: 'failed', reason, retry: destination.ok && !disabled },
      metric: disabled ? 'disabled' : destination.ok ? 'failed' : 'refused',
    };
  }

  /**
   * The rule's matching changes in report order, at most WEBHOOK_MAX_CHANGES, read a page at a time from the
   * first WEBHOOK_MATCH_ROWS rows (the rows the match was decided on).
   */
  private async matchingChanges(
    reportId: number,
    filter: WebhookFilter,
  ): Promise<{ changes: WebhookPayloadChange[]; truncated: boolean }> {
    const compiled = compileWebhookFilter(filter);
    const changes: WebhookPayloadChange[] = [];
    let afterSeq = 0;
    for (let read = 0; read < WEBHOOK_MATCH_ROWS; read += PAGE) {
      const rows = await knexOf(this.em)('delta_changes')
        .where('report_id', reportId)
        .andWhere('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(PAGE)
        .select('seq', 'kind', 'address', 'protocol', 'port', 'before', 'after', 'detail');
      for (const row of rows) {
        const change = { ...row, port: row.port === null ? null : Number(row.port) };
        if (!compiled.matches(change)) continue;
        if (changes.length === WEBHOOK_MAX_CHANGES) return { changes, truncated: true };
        changes.push({
          kind: String(row.kind),
          host: String(row.address),
          protocol: row.protocol ?? null,
          port: change.port,
          before: row.before === null ? null : jsonColumn(row.before),
          after: row.after === null ? null : jsonColumn(row.after),
          detail: row.detail === null ? null : jsonColumn(row.detail),
        });
      }
      if (rows.length < PAGE) break;
      afterSeq = Number(rows[rows.length - 1].seq);
    }
    return { changes, truncated: false };
  }

  /**
   * One more failed try in a row; at WEBHOOK_DISABLE_AFTER the rule is switched off (is_active false, with the
   * reason) and its owner told on /api/stream. Returns whether this call disabled it.
   */
  private async countFailure(ruleId: number, ownerId: number, reason: string): Promise<boolean> {
    const knex = knexOf(this.em);
    await knex('webhook_rules').where('id', ruleId).increment('consecutive_failures', 1);
    const limit = this.config.webhooks.disableAfter;
    const disabledReason = `disabled after ${limit} failed deliveries in a row (last: ${reason})`.slice(
      0,
      1000,
    );
    const changed = await knex('webhook_rules')
      .where('id', ruleId)
      .andWhere('is_active', true)
      .andWhere('consecutive_failures', '>=', limit)
      .update({ is_active: false, disabled_reason: disabledReason, updated_at: new Date() });
    if (changed === 0) return false;
    this.logger.warn(`webhook rule ${ruleId} ${disabledReason}`);
    await this.notifier
      .notifyUser(ownerId, { message: `Webhook ${ruleId} was ${disabledReason}`, type: 'warning' })
      .catch(() => undefined);
    return true;
  }
}
