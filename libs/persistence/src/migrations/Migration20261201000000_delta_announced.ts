import { PortableMigration } from './portable-migration';

/**
 * delta_reports.announced_at: when the report's announcements went out (the `delta_report` event, the owner's
 * notification, the webhook deliveries). Null while they are owed, so a diff job retried after a failure or a
 * crash between storing the report and announcing it announces it still. Reports stored before count as announced.
 */
export class Migration20261201000000DeltaAnnounced extends PortableMigration {
  override up(): void {
    this.alterTable('delta_reports', (t) => {
      this.timestamp(t, 'announced_at').nullable();
    });
    const reports = this.schemaName
      ? this.getKnex()('delta_reports').withSchema(this.schemaName)
      : this.getKnex()('delta_reports');
    this.addSql(reports.update({ announced_at: this.getKnex().ref('created_at') }).toQuery());
  }

  override down(): void {
    this.alterTable('delta_reports', (t) => {
      t.dropColumn('announced_at');
    });
  }
}
