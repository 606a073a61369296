import { DELTA_CHANGE_KIND_VALUES } from '../entities/delta-change.entity';
import { PortableMigration } from './portable-migration';

/**
 * A delta report's change lists as rows of their own (docs/delta.md "Storage"), so a report with 100,000 changes
 * is read and exported a page at a time (keyset on (report_id, seq)) instead of as one JSON value. delta_data
 * keeps the small parts (scanner, runs, comparability, summary). Reports stored before this migration keep
 * their lists in delta_data and are served from there.
 */
export class Migration20261130060000DeltaChanges extends PortableMigration {
  override up(): void {
    this.createTable('delta_changes', (t) => {
      t.increments('id');
      this.reference(t, 'report_id', 'delta_reports');
      t.integer('seq').notNullable();
      t.enu('kind', [...DELTA_CHANGE_KIND_VALUES]).notNullable();
      t.string('address').notNullable();
      t.string('protocol').nullable();
      t.integer('port').nullable();
      t.jsonb('before').nullable();
      t.jsonb('after').nullable();
      t.jsonb('detail').nullable();
      t.unique(['report_id', 'seq']);
    });
  }

  override down(): void {
    this.dropTable('delta_changes');
  }
}
