// Delivers one (rule, report) webhook: builds the payload from the stored rows, checks the destination again,
// POSTs it, logs the try, and keeps the rule's failure count (disabling it after WEBHOOK_DISABLE_AFTER).
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@nso/config';
import type { DeltaReportCounts } from '@nso/contracts';
import { Notifier } from '@nso/events';
import { Metrics, WEBHOOK_DELIVERY_OUTCOMES, type WebhookDeliveryOutcome } from '@nso/monitoring';
import { WebhookRepository, type WebhookFilter } from '@nso/persistence';
import {
  buildWebhookPayload,
  checkWebhookDestination,
  compileWebhookFilter,
  WEBHOOK_MATCH_ROWS,
  WEBHOOK_MAX_CHANGES,
  webhookSignature,
  type WebhookPayloadChange,
} from '@nso/webhooks';
import { WebhookPost, type PostOutcome } from './webhook-post';

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

/** Delivers webhooks: one try of one (rule, report) per call, its rows through WebhookRepository. */
@Injectable()
export class WebhookDeliveryService {
  private readonly logger = new Logger('WebhookDelivery');

  constructor(
    private readonly webhooks: WebhookRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly notifier: Notifier,
    private readonly metrics: Metrics,
    private readonly post: WebhookPost,
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
    const rule = await this.webhooks.ruleForDelivery(attempt.ruleId);
    if (!rule || !rule.isActive) return skipped(`rule ${attempt.ruleId} is gone or inactive`);
    const report = await this.webhooks.reportForDelivery(attempt.reportId);
    if (!report) return skipped(`report ${attempt.reportId} is gone`);

    const { changes, truncated } = await this.matchingChanges(attempt.reportId, rule.filter, {
      announceUnconfirmed: report.announceUnconfirmed,
    });
    const summary: DeltaReportCounts = {
      new_ports_count: report.newPortsCount,
      closed_ports_count: report.closedPortsCount,
      changed_services_count: report.changedServicesCount,
      new_hosts_count: report.newHostsCount,
      removed_hosts_count: report.removedHostsCount,
      has_changes: report.hasChanges,
    };
    const body = JSON.stringify(
      buildWebhookPayload({
        reportId: report.id,
        scanId: report.scanId,
        scanName: report.scanName,
        baselineResultId: report.baselineResultId,
        currentResultId: report.currentResultId,
        createdAt: report.createdAt,
        summary,
        confirmed: report.confirmed,
        verificationStatus: report.verificationStatus,
        includeUnconfirmed: rule.filter.include_unconfirmed === true || report.announceUnconfirmed,
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
    if (rule.secret) headers['X-NetScan-Signature'] = webhookSignature(rule.secret, body);

    const started = performance.now();
    // Checked again now: the allow-list may have changed since the rule was saved, and the name may resolve to
    // something else today. The POST then connects to the address checked here.
    const destination = await checkWebhookDestination(rule.url, this.config.webhooks);
    let outcome: PostOutcome;
    if (!destination.ok) outcome = { error: destination.reason };
    else {
      outcome = await this.post.send(
        destination.url,
        destination.address,
        destination.family,
        headers,
        body,
        this.config.webhooks.timeoutMs,
      );
    }
    const durationMs = Math.round(performance.now() - started);
    await this.webhooks.logTry({
      ruleId: attempt.ruleId,
      reportId: attempt.reportId,
      deliveryId: attempt.deliveryId,
      attempt: attempt.attempt,
      statusCode: 'status' in outcome ? outcome.status : null,
      error: 'error' in outcome ? outcome.error.slice(0, 1000) : null,
      durationMs,
      deliveredAt: new Date(),
    });
    if ('status' in outcome && outcome.status >= 200 && outcome.status < 300) {
      await this.webhooks.deliverySucceeded(attempt.ruleId);
      return { outcome: { kind: 'delivered', status: outcome.status }, metric: 'delivered' };
    }
    const reason = 'status' in outcome ? `HTTP ${outcome.status}` : outcome.error;
    const disabled = await this.countFailure(attempt.ruleId, rule.ownerId, reason);
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
    scan: { announceUnconfirmed: boolean },
  ): Promise<{ changes: WebhookPayloadChange[]; truncated: boolean }> {
    const compiled = compileWebhookFilter(filter, scan);
    const changes: WebhookPayloadChange[] = [];
    let afterSeq = 0;
    for (let read = 0; read < WEBHOOK_MATCH_ROWS; read += PAGE) {
      const rows = await this.webhooks.changesAfter(reportId, afterSeq, PAGE);
      for (const row of rows) {
        if (!compiled.matches(row)) continue;
        if (changes.length === WEBHOOK_MAX_CHANGES) return { changes, truncated: true };
        changes.push({
          kind: row.kind,
          host: row.address,
          protocol: row.protocol,
          port: row.port,
          before: row.before,
          after: row.after,
          detail: row.detail,
          change_id: row.seq,
          verification: row.verification,
          exposure: row.exposure,
        });
      }
      if (rows.length < PAGE) break;
      afterSeq = rows[rows.length - 1]!.seq;
    }
    return { changes, truncated: false };
  }

  /**
   * One more failed try in a row; at WEBHOOK_DISABLE_AFTER the rule is switched off (is_active false, with the
   * reason) and its owner told on /api/stream. Returns whether this call disabled it.
   */
  private async countFailure(ruleId: number, ownerId: number, reason: string): Promise<boolean> {
    const limit = this.config.webhooks.disableAfter;
    const disabledReason = `disabled after ${limit} failed deliveries in a row (last: ${reason})`.slice(
      0,
      1000,
    );
    if (!(await this.webhooks.deliveryFailed(ruleId, limit, disabledReason))) return false;
    this.logger.warn(`webhook rule ${ruleId} ${disabledReason}`);
    await this.notifier
      .notifyUser(ownerId, { message: `Webhook ${ruleId} was ${disabledReason}`, type: 'warning' })
      .catch(() => undefined);
    return true;
  }
}
