import { PortableMigration } from './portable-migration';

/**
 * Webhooks on delta reports (docs/notifications.md "Webhooks"): a user's rules (URL, secret, filter as JSON,
 * health) and the delivery log, one row per try.
 */
export class Migration20261130070000Webhooks extends PortableMigration {
  override up(): void {
    this.createTable('webhook_rules', (t) => {
      t.increments('id');
      this.reference(t, 'owner_id', 'users');
      t.text('url').notNullable();
      t.text('secret').nullable();
      t.boolean('is_active').notNullable().defaultTo(this.literal(true));
      t.jsonb('filter').notNullable();
      t.integer('consecutive_failures').notNullable().defaultTo(this.literal(0));
      t.text('disabled_reason').nullable();
      this.timestamp(t, 'created_at').notNullable();
      this.timestamp(t, 'updated_at').notNullable();
    });
    this.createTable('webhook_deliveries', (t) => {
      t.increments('id');
      this.reference(t, 'rule_id', 'webhook_rules');
      this.reference(t, 'report_id', 'delta_reports');
      t.string('delivery_id').notNullable();
      t.integer('attempt').notNullable();
      t.integer('status_code').nullable();
      t.text('error').nullable();
      t.integer('duration_ms').notNullable();
      this.timestamp(t, 'delivered_at').notNullable();
    });
  }

  override down(): void {
    this.dropTable('webhook_deliveries');
    this.dropTable('webhook_rules');
  }
}
