import { PortableMigration } from './portable-migration';

const RUN_TRIGGERS = ['api-start', 'execute', 'schedule'];
const FIRE_OUTCOMES = ['started', 'skipped'];

/**
 * Recurring scans: a calendar (cron + time zone) beside interval_minutes, what started each run, and one row per
 * schedule fire — unique per (scan, fire), so a fire delivered twice starts one run, and a skipped fire is kept.
 */
export class Migration20261130010000Schedules extends PortableMigration {
  override up(): void {
    this.addSchemaSql(
      this.schemaBuilder().alterTable('scans', (t) => {
        t.string('cron').nullable();
        t.string('timezone').nullable();
      }),
    );
    this.addSchemaSql(
      this.schemaBuilder().alterTable('scan_results', (t) => {
        t.enu('trigger', RUN_TRIGGERS).notNullable().defaultTo('api-start');
      }),
    );
    this.createTable('schedule_fires', (t) => {
      t.increments('id');
      this.reference(t, 'scan_id', 'scans');
      t.string('fire_key').notNullable();
      this.timestamp(t, 'due_at').notNullable();
      this.timestamp(t, 'fired_at').notNullable();
      t.enu('outcome', FIRE_OUTCOMES).notNullable();
      t.text('reason').nullable();
      t.integer('result_id').nullable();
      t.unique(['scan_id', 'fire_key']);
    });
  }

  override down(): void {
    this.dropTable('schedule_fires');
    this.addSchemaSql(this.schemaBuilder().alterTable('scan_results', (t) => t.dropColumn('trigger')));
    this.addSchemaSql(
      this.schemaBuilder().alterTable('scans', (t) => {
        t.dropColumn('cron');
        t.dropColumn('timezone');
      }),
    );
  }
}
