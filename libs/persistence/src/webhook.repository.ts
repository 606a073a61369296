// The webhook_rules and webhook_deliveries tables: every write of their rows is here (a rule's API edits, the
// per-user rule limit, the delivery log, the failure count that switches a rule off), and the reads the webhook
// queue and its deliveries make of delta reports. The delivery path stays on knex: no entity per change row.
import type { EntityManager } from '@mikro-orm/core';
import { Scan, User, WebhookRule, type WebhookFilter } from './entities';
import type { DeltaReportRecord } from './delta-report.queries';
import { knexOf } from './sql';

/** A JSON column as knex returns it: text on SQLite, a value on PostgreSQL. */
function jsonColumn<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** A new rule as the API stores it. */
export interface WebhookRuleInput {
  ownerId: number;
  url: string;
  secret: string | null;
  isActive: boolean;
  filter: WebhookFilter;
}

/** The fields of a rule an edit may set; those left out keep their values. */
export type WebhookRulePatch = Partial<
  Pick<WebhookRule, 'url' | 'secret' | 'isActive' | 'filter' | 'consecutiveFailures' | 'disabledReason'>
>;

/** One try of a delivery, as the delivery log stores it. */
export interface WebhookDeliveryRow {
  ruleId: number;
  reportId: number;
  /** X-NetScan-Delivery: the same on every try of one delivery. */
  deliveryId: string;
  /** 1-based. */
  attempt: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  deliveredAt: Date;
}

/** A row of the delivery log as the API lists it. */
export interface WebhookDeliveryLogRow extends WebhookDeliveryRow {
  id: number;
}

/** A rule as a delivery reads it. */
export interface DeliverableRule {
  id: number;
  ownerId: number;
  url: string;
  secret: string | null;
  isActive: boolean;
  filter: WebhookFilter;
}

/** A delta report as a delivery's payload shows it (the counts are the report's columns). */
export type DeliverableReport = Pick<
  DeltaReportRecord,
  | 'id'
  | 'scanId'
  | 'baselineResultId'
  | 'currentResultId'
  | 'createdAt'
  | 'newPortsCount'
  | 'closedPortsCount'
  | 'changedServicesCount'
  | 'newHostsCount'
  | 'removedHostsCount'
  | 'hasChanges'
> & {
  /** '' when the scan is gone. */
  scanName: string;
  /** The scan's announce_unconfirmed (false when the scan is gone): its unconfirmed changes are sent too. */
  announceUnconfirmed: boolean;
  /** Issue 21: the report's verification (null: not verified) and its confirmed counts. */
  verificationStatus: 'pending' | 'done' | null;
  confirmed: {
    new_ports_count: number;
    closed_ports_count: number;
    changed_services_count: number;
    new_hosts_count: number;
    removed_hosts_count: number;
  };
};

/** The issue-21 marks of a delta_changes row as read by knex (booleans are 0/1 on SQLite). */
function marksOf(
  row: Record<string, unknown>,
): Pick<WebhookChangeKey, 'verification' | 'flapping' | 'exposure'> {
  return {
    verification: (row.verification as string | null) ?? null,
    flapping: Boolean(row.flapping),
    exposure: (row.exposure as string | null) ?? null,
  };
}

/** What a rule's filter matches of a delta_changes row (docs/delta.md "Storage"); kind is the singular row kind. */
export interface WebhookChangeKey {
  kind: string;
  address: string;
  protocol: string | null;
  port: number | null;
  /** Issue 21 marks: the rescan's verdict, whether the port flaps, its exposure. */
  verification: string | null;
  flapping: boolean;
  exposure: string | null;
}

/** A delta_changes row as a delivery sends it. */
export interface WebhookChangeRow extends WebhookChangeKey {
  seq: number;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  detail: Record<string, unknown> | null;
}

/** Provided by PersistenceModule. */
export class WebhookRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Stores a new rule unless its owner already has `max`: the count and the insert are one transaction that first
   * locks the owner's user row (a write, so SQLite takes its write lock too), so parallel creates of one user
   * queue behind each other on however many gateways. Returns the rule, or null at the limit.
   */
  async create(input: WebhookRuleInput, max: number): Promise<WebhookRule | null> {
    return this.em.fork().transactional(async (em) => {
      await em.nativeUpdate(User, { id: input.ownerId }, { id: input.ownerId });
      if ((await em.count(WebhookRule, { owner: input.ownerId })) >= max) return null;
      return em.create(WebhookRule, {
        owner: em.getReference(User, input.ownerId),
        url: input.url,
        secret: input.secret,
        isActive: input.isActive,
        filter: input.filter,
      });
    });
  }

  /** The owner's rules, oldest first. */
  listOfOwner(ownerId: number): Promise<WebhookRule[]> {
    return this.em.fork().find(WebhookRule, { owner: ownerId }, { orderBy: { id: 'asc' } });
  }

  /** Rule `id` when `ownerId` owns it; null for another user's rule as for a missing one. */
  findOwned(ownerId: number, id: number): Promise<WebhookRule | null> {
    return this.em.fork().findOne(WebhookRule, { id, owner: ownerId });
  }

  /** Sets the fields of `patch` and updated_at; returns the rule as stored, or null when it is gone. */
  async update(id: number, patch: WebhookRulePatch): Promise<WebhookRule | null> {
    const em = this.em.fork();
    const rule = await em.findOne(WebhookRule, id);
    if (!rule) return null;
    Object.assign(rule, patch, { updatedAt: new Date() });
    await em.flush();
    return rule;
  }

  /** Deletes the rule; its delivery log goes with it (ON DELETE CASCADE). False when it was gone. */
  async remove(id: number): Promise<boolean> {
    return (await this.em.fork().nativeDelete(WebhookRule, { id })) > 0;
  }

  /** The rule's delivery log, newest first: one page and the number of rows in all. */
  async deliveries(
    ruleId: number,
    page: { limit: number; offset: number },
  ): Promise<{ rows: WebhookDeliveryLogRow[]; total: number }> {
    const knex = knexOf(this.em);
    const [{ n }] = await knex('webhook_deliveries').where('rule_id', ruleId).count({ n: '*' });
    const rows = await knex('webhook_deliveries')
      .where('rule_id', ruleId)
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.offset);
    return {
      total: Number(n),
      rows: rows.map((row) => ({
        id: Number(row.id),
        ruleId: Number(row.rule_id),
        deliveryId: String(row.delivery_id),
        reportId: Number(row.report_id),
        attempt: Number(row.attempt),
        statusCode: row.status_code === null ? null : Number(row.status_code),
        error: row.error ?? null,
        durationMs: Number(row.duration_ms),
        deliveredAt: new Date(row.delivered_at),
      })),
    };
  }

  /** Which of `scanIds` are scans of `ownerId` (a filter may name only the owner's scans). */
  async ownScanIds(ownerId: number, scanIds: readonly number[]): Promise<number[]> {
    if (scanIds.length === 0) return [];
    const own = await this.em
      .fork()
      .find(Scan, { id: { $in: [...scanIds] }, owner: ownerId }, { fields: ['id'] });
    return own.map((scan) => scan.id);
  }

  /** The active rules of the owner of scan `scanId` (none when the scan is gone), with their filters. */
  async activeRulesOfScanOwner(scanId: number): Promise<Array<{ id: number; filter: WebhookFilter }>> {
    const knex = knexOf(this.em);
    const scan = await knex('scans').where('id', scanId).first('owner_id');
    if (!scan) return [];
    const rows = await knex('webhook_rules')
      .where({ owner_id: scan.owner_id, is_active: true })
      .select('id', 'filter');
    return rows.map((row) => ({ id: Number(row.id), filter: jsonColumn<WebhookFilter>(row.filter) }));
  }

  /** The first `limit` change rows of the report in report order, only what a filter matches on. */
  async changesToMatch(reportId: number, limit: number): Promise<WebhookChangeKey[]> {
    const rows = await knexOf(this.em)('delta_changes')
      .where('report_id', reportId)
      .orderBy('seq')
      .limit(limit)
      .select('kind', 'address', 'protocol', 'port', 'verification', 'flapping', 'exposure');
    return rows.map((row) => ({
      kind: String(row.kind),
      address: String(row.address),
      protocol: row.protocol ?? null,
      port: row.port === null ? null : Number(row.port),
      ...marksOf(row),
    }));
  }

  /**
   * The report's change rows after `afterSeq`, in report order, at most `limit` (a page: a report may hold
   * 100,000). `port` is a number or null on both databases.
   */
  async changesAfter(reportId: number, afterSeq: number, limit: number): Promise<WebhookChangeRow[]> {
    const rows = await knexOf(this.em)('delta_changes')
      .where('report_id', reportId)
      .andWhere('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .select('seq', 'kind', 'address', 'protocol', 'port', 'before', 'after', 'detail')
      .select('verification', 'flapping', 'exposure');
    return rows.map((row) => ({
      ...marksOf(row),
      seq: Number(row.seq),
      kind: String(row.kind),
      address: String(row.address),
      protocol: row.protocol ?? null,
      port: row.port === null ? null : Number(row.port),
      before: row.before === null ? null : jsonColumn(row.before),
      after: row.after === null ? null : jsonColumn(row.after),
      detail: row.detail === null ? null : jsonColumn(row.detail),
    }));
  }

  /** Rule `id` as a delivery reads it; null when it is gone. */
  async ruleForDelivery(id: number): Promise<DeliverableRule | null> {
    const row = await knexOf(this.em)('webhook_rules').where('id', id).first();
    if (!row) return null;
    return {
      id: Number(row.id),
      ownerId: Number(row.owner_id),
      url: String(row.url),
      secret: row.secret ? String(row.secret) : null,
      isActive: Boolean(row.is_active),
      filter: jsonColumn<WebhookFilter>(row.filter),
    };
  }

  /** Report `id` with its scan's name, as a delivery's payload shows it; null when it is gone. */
  async reportForDelivery(id: number): Promise<DeliverableReport | null> {
    const knex = knexOf(this.em);
    const report = await knex('delta_reports').where('id', id).first();
    if (!report) return null;
    const scan = await knex('scans').where('id', report.scan_id).first('name', 'announce_unconfirmed');
    return {
      id: Number(report.id),
      scanId: Number(report.scan_id),
      scanName: String(scan?.name ?? ''),
      announceUnconfirmed: Boolean(scan?.announce_unconfirmed),
      baselineResultId: Number(report.baseline_result_id),
      currentResultId: Number(report.current_result_id),
      createdAt: new Date(report.created_at),
      newPortsCount: Number(report.new_ports_count),
      closedPortsCount: Number(report.closed_ports_count),
      changedServicesCount: Number(report.changed_services_count),
      newHostsCount: Number(report.new_hosts_count),
      removedHostsCount: Number(report.removed_hosts_count),
      hasChanges: Boolean(report.has_changes),
      verificationStatus: report.verification_status ?? null,
      confirmed: {
        new_ports_count: Number(report.confirmed_new_ports_count),
        closed_ports_count: Number(report.confirmed_closed_ports_count),
        changed_services_count: Number(report.confirmed_changed_services_count),
        new_hosts_count: Number(report.confirmed_new_hosts_count),
        removed_hosts_count: Number(report.confirmed_removed_hosts_count),
      },
    };
  }

  /** Appends one try to the delivery log. */
  async logTry(row: WebhookDeliveryRow): Promise<void> {
    await knexOf(this.em)('webhook_deliveries').insert({
      rule_id: row.ruleId,
      report_id: row.reportId,
      delivery_id: row.deliveryId,
      attempt: row.attempt,
      status_code: row.statusCode,
      error: row.error,
      duration_ms: row.durationMs,
      delivered_at: row.deliveredAt,
    });
  }

  /** A 2xx: the rule's failures in a row start again from 0. */
  async deliverySucceeded(ruleId: number): Promise<void> {
    await knexOf(this.em)('webhook_rules').where('id', ruleId).update({ consecutive_failures: 0 });
  }

  /**
   * One more failed try in a row; when that makes `disableAfter` (or more) and the rule is still active, it is
   * switched off with `disabledReason` in one conditional update. Returns whether this call switched it off.
   */
  async deliveryFailed(ruleId: number, disableAfter: number, disabledReason: string): Promise<boolean> {
    const knex = knexOf(this.em);
    await knex('webhook_rules').where('id', ruleId).increment('consecutive_failures', 1);
    const changed = await knex('webhook_rules')
      .where('id', ruleId)
      .andWhere('is_active', true)
      .andWhere('consecutive_failures', '>=', disableAfter)
      .update({ is_active: false, disabled_reason: disabledReason, updated_at: new Date() });
    return changed > 0;
  }
}
