// The body of a webhook delivery (docs/notifications.md "Webhooks"): what changed, bounded, and a one-paragraph
// text that Slack (and Mattermost, Discord's Slack-compatible endpoint) shows as the message.
import type { DeltaReportCounts } from '@nso/contracts';

/** Changes sent in one payload at most; `truncated` says when the report had more matching ones. */
export const WEBHOOK_MAX_CHANGES = 100;

/** One change as sent: a delta_changes row, host for address. */
export interface WebhookPayloadChange {
  kind: string;
  host: string;
  protocol: string | null;
  port: number | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  detail: Record<string, unknown> | null;
  /** Issue 21: the change's id in its report, the rescan's verdict (null: not verified), its exposure. */
  change_id?: number;
  verification?: string | null;
  exposure?: string | null;
}

export interface WebhookPayload {
  event: 'delta_report';
  report_id: number;
  scan_id: number;
  scan_name: string;
  baseline_result_id: number;
  current_result_id: number;
  created_at: string;
  summary: DeltaReportCounts;
  /** Issue 21: the counts of confirmed changes, and the report's verification (docs/delta.md "Verified changes"). */
  confirmed?: Omit<DeltaReportCounts, 'has_changes'>;
  verification?: { status: 'pending' | 'done' | null };
  /** The matching changes, in report order, at most WEBHOOK_MAX_CHANGES. */
  changes: WebhookPayloadChange[];
  truncated: boolean;
  text: string;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

const VERB: Record<string, string> = {
  new_up_host: 'host up',
  new_down_host: 'host down',
  added_port: 'opened',
  removed_port: 'closed',
  changed_port: 'changed',
};

/** `127.0.0.1 tcp/22 opened`, `127.0.0.5 host up`. */
function describe(change: WebhookPayloadChange): string {
  const where = change.port !== null ? ` ${change.protocol ?? 'tcp'}/${change.port}` : '';
  return `${change.host}${where} ${VERB[change.kind] ?? change.kind}`;
}

/**
 * The Slack-compatible `text`: one paragraph, no markup beyond plain text, the counts and up to five of the
 * matching changes. Scan names are user text: `<`, `>` and `&` are escaped as Slack asks.
 */
export function webhookText(input: {
  reportId: number;
  scanName: string;
  summary: DeltaReportCounts;
  changes: WebhookPayloadChange[];
  truncated: boolean;
}): string {
  const s = input.summary;
  const name = input.scanName.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const counts = [
    plural(s.new_ports_count, 'port opened', 'ports opened'),
    plural(s.closed_ports_count, 'port closed', 'ports closed'),
    plural(s.changed_services_count, 'service changed', 'services changed'),
    plural(s.new_hosts_count, 'host up', 'hosts up'),
    plural(s.removed_hosts_count, 'host down', 'hosts down'),
  ].join(', ');
  const shown = input.changes.slice(0, 5).map(describe);
  const more = input.changes.length - shown.length;
  const list = shown.length
    ? ` Matching: ${shown.join('; ')}${more > 0 || input.truncated ? `; and ${input.truncated ? 'more' : more + ' more'}` : ''}.`
    : '';
  return `NetScan: scan "${name}" changed (report ${input.reportId}): ${counts}.${list}`;
}

/** The delivery body; `changes` are the matching ones (at most WEBHOOK_MAX_CHANGES). */
export function buildWebhookPayload(input: {
  reportId: number;
  scanId: number;
  scanName: string;
  baselineResultId: number;
  currentResultId: number;
  createdAt: Date;
  summary: DeltaReportCounts;
  /** With a verified report, its confirmed counts: `text` counts them unless the rule sends unconfirmed changes. */
  confirmed?: Omit<DeltaReportCounts, 'has_changes'>;
  verificationStatus?: 'pending' | 'done' | null;
  /** The rule (or the scan) sends changes the rescan did not confirm too. */
  includeUnconfirmed?: boolean;
  changes: WebhookPayloadChange[];
  truncated: boolean;
}): WebhookPayload {
  const verified = input.verificationStatus === 'done' && input.confirmed !== undefined;
  const told =
    verified && !input.includeUnconfirmed
      ? { ...input.confirmed!, has_changes: input.summary.has_changes }
      : input.summary;
  return {
    event: 'delta_report',
    report_id: input.reportId,
    scan_id: input.scanId,
    scan_name: input.scanName,
    baseline_result_id: input.baselineResultId,
    current_result_id: input.currentResultId,
    created_at: input.createdAt.toISOString(),
    summary: input.summary,
    ...(input.confirmed ? { confirmed: input.confirmed } : {}),
    ...(input.verificationStatus !== undefined ? { verification: { status: input.verificationStatus } } : {}),
    changes: input.changes,
    truncated: input.truncated,
    text: webhookText({ ...input, summary: told }),
  };
}
