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

  /** A fourth run trigger, `import` (PortableMigration.replaceRunTriggers says how, on each database). */
  private allowImportTrigger(): void {
    this.replaceRunTriggers(RUN_TRIGGERS);
  }
}
