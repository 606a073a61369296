// Matches a stored delta report against its scan owner's webhook rules and queues one delivery per matching rule.
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@nso/config';
import { WEBHOOK_DELIVERY_JOB, WEBHOOK_QUEUE, webhookDeliveryJobId, type JobPayloads } from '@nso/contracts';
import { WebhookRepository } from '@nso/persistence';
import type { Queue } from 'bullmq';
import { compileWebhookFilter } from './webhook-filter';

/** Change rows read to decide whether a rule matches: a report larger than this is matched on its first rows. */
export const WEBHOOK_MATCH_ROWS = 10_000;

/** The queue side of webhooks: provided (global) by WebhookJobsModule in every process. */
@Injectable()
export class WebhookJobs {
  private readonly logger = new Logger('Webhooks');

  constructor(
    private readonly webhooks: WebhookRepository,
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<JobPayloads['deliver-webhook']>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * For a report with changes just stored: every active rule of the scan's owner whose filter matches one of
   * the report's first WEBHOOK_MATCH_ROWS change rows gets a `deliver-webhook` job. The job id comes from
   * (rule, report), so adding it again is a no-op. Returns the rule ids queued. Errors propagate.
   */
  async reportStored(report: {
    reportId: number;
    scanId: number;
    /** The scan's announce_unconfirmed (docs/delta.md "Verified changes"). */
    includeUnconfirmed?: boolean;
  }): Promise<number[]> {
    const scan = { announceUnconfirmed: report.includeUnconfirmed === true };
    const rules = (await this.webhooks.activeRulesOfScanOwner(report.scanId))
      .map((row) => ({ id: row.id, filter: compileWebhookFilter(row.filter, scan) }))
      .filter((rule) => rule.filter.scanMatches(report.scanId));
    if (rules.length === 0) return [];
    const changes = await this.webhooks.changesToMatch(report.reportId, WEBHOOK_MATCH_ROWS);
    const matched = rules.filter((rule) => changes.some((change) => rule.filter.matches(change)));
    for (const rule of matched) {
      await this.queue.add(
        WEBHOOK_DELIVERY_JOB,
        { ruleId: rule.id, reportId: report.reportId },
        {
          jobId: webhookDeliveryJobId(rule.id, report.reportId),
          attempts: this.config.webhooks.attempts,
          backoff: { type: 'exponential', delay: this.config.webhooks.retryBaseMs },
          removeOnComplete: { age: 24 * 3600, count: 10_000 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      );
    }
    if (matched.length > 0) {
      this.logger.log(
        `report ${report.reportId}: webhook deliveries queued for rules ${matched.map((r) => r.id).join(', ')}`,
      );
    }
    return matched.map((r) => r.id);
  }
}
