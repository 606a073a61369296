import { Entity, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { DeltaReport } from './delta-report.entity';
import { WebhookRule } from './webhook-rule.entity';

/**
 * One try of one webhook delivery (the delivery log): which rule and report, the try's number (1-based, BullMQ's
 * attempt), the HTTP status the receiver answered or why there was none, and how long it took. Written by the
 * worker with knex, read by `GET /api/webhooks/{id}/deliveries`.
 */
@Entity({ tableName: 'webhook_deliveries' })
export class WebhookDelivery {
  declare [OptionalProps]?: 'statusCode' | 'error';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne({ entity: () => WebhookRule, deleteRule: 'cascade' })
  rule!: WebhookRule;

  @ManyToOne({ entity: () => DeltaReport, deleteRule: 'cascade' })
  report!: DeltaReport;

  /** The delivery's id (X-NetScan-Delivery), the same on every try. */
  @Property({ type: 'string' })
  deliveryId!: string;

  @Property({ type: 'integer' })
  attempt!: number;

  @Property({ type: 'integer', nullable: true })
  statusCode: number | null = null;

  @Property({ type: 'text', nullable: true })
  error: string | null = null;

  @Property({ type: 'integer' })
  durationMs!: number;

  @Property({ type: 'datetime' })
  deliveredAt!: Date;
}
