import { PortableMigration } from './portable-migration';

const USER_ROLES = ['admin', 'user'];
const SCAN_RUNNERS = ['asyncio', 'multiprocessing'];
const SCAN_RESULT_STATUSES = ['queued', 'running', 'completed', 'stopped', 'failed'];
const BATCH_STATUSES = ['pending', 'running', 'completed', 'failed', 'stopped'];

/** Users, projects, scan definitions, runs, batches, hosts and ports. Values are frozen copies, not imports. */
export class Migration20250601000000Initial extends PortableMigration {
  override up(): void {
    this.createTable('users', (t) => {
      t.increments('id');
      t.string('username').notNullable().unique();
      t.string('email').nullable().unique();
      t.text('password_hash').nullable();
      t.enu('role', USER_ROLES).notNullable().defaultTo('user');
      t.string('first_name').nullable();
      t.string('last_name').nullable();
      this.timestamp(t, 'created_at').notNullable();
      this.timestamp(t, 'updated_at').notNullable();
    });

    this.createTable('projects', (t) => {
      t.increments('id');
      this.reference(t, 'owner_id', 'users');
      t.string('name').notNullable();
      t.text('description').nullable();
      t.boolean('is_default').notNullable().defaultTo(this.literal(false));
      this.timestamp(t, 'created_at').notNullable();
      t.unique(['owner_id', 'name']);
    });

    this.createTable('scans', (t) => {
      t.increments('id');
      this.reference(t, 'owner_id', 'users', { index: true });
      this.reference(t, 'project_id', 'projects', { index: true });
      t.string('name').notNullable();
      t.text('description').nullable();
      t.jsonb('targets').notNullable();
      t.string('ports').nullable();
      t.jsonb('nmap_flags').notNullable();
      t.enu('runner', SCAN_RUNNERS).notNullable().defaultTo('asyncio');
      t.integer('chunk_size').notNullable().defaultTo(this.literal(256));
      t.integer('concurrency').notNullable().defaultTo(this.literal(6));
      t.integer('interval_minutes').nullable();
      t.boolean('is_active').notNullable().defaultTo(this.literal(true));
      t.boolean('is_scheduled').notNullable().defaultTo(this.literal(false));
      t.boolean('is_one_off').notNullable().defaultTo(this.literal(false));
      this.timestamp(t, 'last_run').nullable();
      this.timestamp(t, 'next_run').nullable();
      this.timestamp(t, 'created_at').notNullable();
      this.timestamp(t, 'updated_at').notNullable();
    });

    this.createTable('scan_results', (t) => {
      t.increments('id');
      this.reference(t, 'scan_id', 'scans');
      t.enu('status', SCAN_RESULT_STATUSES).notNullable().defaultTo('queued');
      t.enu('runner', SCAN_RUNNERS).notNullable();
      t.jsonb('nmap_flags').notNullable();
      t.jsonb('targets').notNullable();
      t.integer('chunk_size').notNullable();
      t.integer('concurrency').notNullable();
      t.bigInteger('targets_total').notNullable();
      t.integer('batches_total').notNullable();
      t.integer('batches_done').notNullable().defaultTo(this.literal(0));
      t.integer('batches_failed').notNullable().defaultTo(this.literal(0));
      t.integer('hosts_up').notNullable().defaultTo(this.literal(0));
      t.integer('open_ports').notNullable().defaultTo(this.literal(0));
      t.jsonb('summary_stats').nullable();
      t.text('error').nullable();
      this.timestamp(t, 'created_at').notNullable();
      this.timestamp(t, 'started_at').nullable();
      this.timestamp(t, 'finished_at').nullable();
      t.index(['scan_id', 'status']);
    });

    this.createTable('batches', (t) => {
      t.increments('id');
      this.reference(t, 'result_id', 'scan_results');
      t.integer('seq').notNullable();
      t.jsonb('targets').notNullable();
      t.enu('status', BATCH_STATUSES).notNullable().defaultTo('pending');
      t.integer('attempts').notNullable().defaultTo(this.literal(0));
      t.string('worker_id').nullable();
      this.timestamp(t, 'started_at').nullable();
      this.timestamp(t, 'finished_at').nullable();
      t.integer('exit_code').nullable();
      t.text('stderr').nullable();
      t.integer('hosts_up').notNullable().defaultTo(this.literal(0));
      t.integer('open_ports').notNullable().defaultTo(this.literal(0));
      this.timestamp(t, 'created_at').notNullable();
      t.unique(['result_id', 'seq']);
    });

    this.createTable('hosts', (t) => {
      t.increments('id');
      this.reference(t, 'result_id', 'scan_results');
      this.reference(t, 'batch_id', 'batches', { index: true });
      t.string('address').notNullable();
      t.string('address_type').notNullable();
      t.jsonb('hostnames').notNullable();
      t.string('state').notNullable();
      t.string('reason').nullable();
      t.string('mac').nullable();
      t.jsonb('os').nullable();
      this.timestamp(t, 'created_at').notNullable();
      t.unique(['result_id', 'address']);
    });

    this.createTable('ports', (t) => {
      t.increments('id');
      this.reference(t, 'host_id', 'hosts');
      t.string('protocol').notNullable();
      t.integer('port').notNullable();
      t.string('state').notNullable();
      t.string('reason').nullable();
      t.string('service_name').nullable();
      t.string('product').nullable();
      t.string('version').nullable();
      t.string('extrainfo').nullable();
      t.jsonb('cpe').nullable();
      t.unique(['host_id', 'protocol', 'port']);
    });
  }

  override down(): void {
    for (const table of ['ports', 'hosts', 'batches', 'scan_results', 'scans', 'projects', 'users']) {
      this.dropTable(table);
    }
  }
}
