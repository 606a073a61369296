import { PortableMigration } from './portable-migration';

/**
 * scan_results.resolved_names: each host name of a run with the addresses it was resolved to at submission
 * (batches are cut from them; nmap never resolves a name again). Null for earlier runs.
 */
export class Migration20261130000000ResolvedNames extends PortableMigration {
  override up(): void {
    this.alterTable('scan_results', (t) => {
      t.jsonb('resolved_names').nullable();
    });
  }

  override down(): void {
    this.alterTable('scan_results', (t) => {
      t.dropColumn('resolved_names');
    });
  }
}
