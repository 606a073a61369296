import { PortableMigration } from './portable-migration';

const CLIENT_KINDS = ['pool', 'agent'];
const CLIENT_STATUSES = ['online', 'scanning', 'offline'];

/** Scanner clients (seed 003 "Client Management"): worker pools and HTTP agents, their ranges and approval. */
export class Migration20261130030000Clients extends PortableMigration {
  override up(): void {
    this.createTable('clients', (t) => {
      t.increments('id');
      t.string('client_id').notNullable().unique();
      t.enu('kind', CLIENT_KINDS).notNullable();
      t.string('hostname').nullable();
      t.string('ip_address').nullable();
      t.integer('port').nullable();
      t.jsonb('scan_range').notNullable();
      t.enu('status', CLIENT_STATUSES).notNullable().defaultTo('online');
      t.integer('active_scans').notNullable().defaultTo(this.literal(0));
      t.jsonb('capabilities').nullable();
      t.jsonb('system_info').nullable();
      t.boolean('is_approved').notNullable().defaultTo(this.literal(false));
      t.string('approved_ip').nullable();
      this.timestamp(t, 'approved_at').nullable();
      t.boolean('is_enabled').notNullable().defaultTo(this.literal(true));
      t.string('source_ip').nullable();
      this.timestamp(t, 'last_seen').nullable();
      t.string('refused_ip').nullable();
      this.timestamp(t, 'refused_at').nullable();
      t.integer('refused_count').notNullable().defaultTo(this.literal(0));
      this.timestamp(t, 'created_at').notNullable();
      this.timestamp(t, 'updated_at').notNullable();
    });
  }

  override down(): void {
    this.dropTable('clients');
  }
}
