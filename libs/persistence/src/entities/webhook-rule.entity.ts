import { Entity, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { User } from './user.entity';

/** Kinds of change a webhook filter names: a report's lists (docs/delta.md), unverified entries excluded. */
export const WEBHOOK_KINDS = [
  'new_up_hosts',
  'new_down_hosts',
  'added_ports',
  'removed_ports',
  'changed_ports',
] as const;
export type WebhookKind = (typeof WEBHOOK_KINDS)[number];
/** Protocols a rule may filter on: nmap's port scans, and ip (the IP protocols of an -sO scan). */
export const WEBHOOK_PROTOCOLS = ['tcp', 'udp', 'sctp', 'ip'] as const;

/**
 * Which changes of a delta report a rule wants. Every non-empty list must match (an empty or missing list
 * matches anything); within a list any value matches. A change without a port (a host change) never matches a
 * non-empty `ports` or `protocols` list.
 */
export interface WebhookFilter {
  kinds?: WebhookKind[];
  ports?: number[];
  protocols?: string[];
  host_cidrs?: string[];
  scan_ids?: number[];
  /**
   * Issue 21 (docs/delta.md "Verified changes"): also changes the confirmation rescan did not confirm (by default
   * only confirmed ones, or those of reports that were not verified, are sent). Changes of flapping ports never are.
   */
  include_unconfirmed?: boolean;
  /** Only changes of these exposures against the scan's expected ports (e.g. `["unexpected"]`); empty = any. */
  exposures?: WebhookExposure[];
}

/** A change's exposure a filter can name (docs/delta.md "Expected ports"). */
export const WEBHOOK_EXPOSURES = ['expected', 'unexpected', 'missing'] as const;
export type WebhookExposure = (typeof WEBHOOK_EXPOSURES)[number];

/**
 * A user's webhook on delta reports (docs/notifications.md "Webhooks"): a URL that WEBHOOK_ALLOW permits, an
 * optional signing secret (write-only in the API), a filter, and its health — `consecutiveFailures` counts failed
 * delivery tries since the last 2xx; at WEBHOOK_DISABLE_AFTER the rule is switched off with a reason.
 */
@Entity({ tableName: 'webhook_rules' })
export class WebhookRule {
  declare [OptionalProps]?:
    'secret' | 'isActive' | 'consecutiveFailures' | 'disabledReason' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne({ entity: () => User, deleteRule: 'cascade' })
  owner!: User;

  @Property({ type: 'text' })
  url!: string;

  @Property({ type: 'text', nullable: true })
  secret: string | null = null;

  @Property({ type: 'boolean', default: true })
  isActive: boolean = true;

  @Property({ type: 'json' })
  filter!: WebhookFilter;

  @Property({ type: 'integer', default: 0 })
  consecutiveFailures: number = 0;

  @Property({ type: 'text', nullable: true })
  disabledReason: string | null = null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime' })
  updatedAt: Date = new Date();
}
