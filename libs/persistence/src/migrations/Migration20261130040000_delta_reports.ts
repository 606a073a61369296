import { PortableMigration } from './portable-migration';

const RUN_TRIGGERS = ['api-start', 'execute', 'schedule', 'import'];

/**
 * Delta reports (seed 003 "Delta Reports"): one row per (baseline run, current run), its counts as columns and
 * its lists as JSON. And a fourth run trigger, `import` (an nmap XML brought in over the API).
 */
export class Migration20261130040000DeltaReports extends PortableMigration {
  override up(): void {
    this.allowImportTrigger();
    this.createTable('delta_reports', (t) => {
      t.increments('id');
      this.reference(t, 'scan_id', 'scans');
      this.reference(t, 'baseline_result_id', 'scan_results');
      this.reference(t, 'current_result_id', 'scan_results');
      t.enu('report_type', ['delta']).notNullable().defaultTo('delta');
      t.enu('status', ['generated']).notNullable().defaultTo('generated');
      t.integer('new_ports_count').notNullable().defaultTo(this.literal(0));
      t.integer('closed_ports_count').notNullable().defaultTo(this.literal(0));
      t.integer('changed_services_count').notNullable().defaultTo(this.literal(0));
      t.integer('new_hosts_count').notNullable().defaultTo(this.literal(0));
      t.integer('removed_hosts_count').notNullable().defaultTo(this.literal(0));
      t.boolean('has_changes').notNullable().defaultTo(this.literal(false));
      t.jsonb('delta_data').notNullable();
      this.timestamp(t, 'created_at').notNullable();
      t.unique(['baseline_result_id', 'current_result_id']);
      t.index(['scan_id', 'created_at']);
    });
  }

  override down(): void {
    this.dropTable('delta_reports');
  }

  /**
   * scan_results.trigger is a CHECK constraint on both databases (knex's enum). PostgreSQL replaces it in place.
   * SQLite cannot alter a CHECK, and rebuilding the table is not possible inside the migrations' transaction
   * (foreign_keys cannot be switched off there, and a rename drags the children's foreign keys along): the column
   * is replaced instead — a new column with the wider CHECK, the values copied, the old one dropped (its CHECK
   * goes with it), the new one renamed. It stays the last column, where it was.
   */
  private allowImportTrigger(): void {
    const list = RUN_TRIGGERS.map((t) => `'${t}'`).join(', ');
    if (this.isPostgres) {
      const table = this.schemaName ? `"${this.schemaName}"."scan_results"` : '"scan_results"';
      this.addSql(`alter table ${table} drop constraint if exists "scan_results_trigger_check"`);
      this.addSql(
        `alter table ${table} add constraint "scan_results_trigger_check" check ("trigger" in (${list}))`,
      );
      return;
    }
    this.addSql(
      `alter table \`scan_results\` add column \`trigger_widened\` text check (\`trigger_widened\` in (${list})) not null default 'api-start'`,
    );
    this.addSql('update `scan_results` set `trigger_widened` = `trigger`');
    this.addSql('alter table `scan_results` drop column `trigger`');
    this.addSql('alter table `scan_results` rename column `trigger_widened` to `trigger`');
  }
}
