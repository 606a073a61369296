import { PortableMigration } from './portable-migration';

/**
 * hosts.unlisted_states: the states of the ports nmap scanned on the host and did not list (its `<extraports
 * state>` elements, comma-separated, e.g. `filtered` or `closed,filtered`); null when it listed every port. The
 * diff gives a port no longer listed that state instead of `closed` (docs/delta.md). Rows stored before are null.
 */
export class Migration20261206000000UnlistedStates extends PortableMigration {
  override up(): void {
    this.alterTable('hosts', (t) => {
      t.string('unlisted_states').nullable();
    });
  }

  override down(): void {
    this.alterTable('hosts', (t) => {
      t.dropColumn('unlisted_states');
    });
  }
}
