import { PortableMigration } from './portable-migration';

/**
 * scan_results.delegation (which scanner clients scan which addresses of the run) and
 * scan_results.unassigned_targets (the addresses no client covered). Null for earlier runs: the `local` pool
 * scanned all of them.
 */
export class Migration20261130050000Delegation extends PortableMigration {
  override up(): void {
    this.alterTable('scan_results', (t) => {
      t.jsonb('delegation').nullable();
      t.jsonb('unassigned_targets').nullable();
    });
  }

  override down(): void {
    this.alterTable('scan_results', (t) => {
      t.dropColumn('delegation');
      t.dropColumn('unassigned_targets');
    });
  }
}
