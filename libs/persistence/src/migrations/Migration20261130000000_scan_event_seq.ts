import { PortableMigration } from './portable-migration';

/**
 * The durable high-water mark of a scan's event seqs (see run-recovery.ts): Redis may hand out seqs only up to
 * it, so a seq counter lost with Redis continues above every seq ever published.
 */
export class Migration20261130000000ScanEventSeq extends PortableMigration {
  override up(): void {
    this.addSchemaSql(
      this.schemaBuilder().alterTable('scans', (t) => {
        t.integer('event_seq_reserved').notNullable().defaultTo(this.literal(0));
      }),
    );
  }

  override down(): void {
    this.addSchemaSql(
      this.schemaBuilder().alterTable('scans', (t) => {
        t.dropColumn('event_seq_reserved');
      }),
    );
  }
}
