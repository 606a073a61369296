import { PortableMigration } from './portable-migration';

const RUN_TRIGGERS = ['api-start', 'execute', 'schedule', 'import', 'verify'];

/**
 * Changes a team can act on (issue 21, docs/delta.md "Verified changes", "Flapping ports", "Accepted changes",
 * "Expected ports"):
 * - scans: `verify_changes` (default true), `verify_delay_seconds` (30), `announce_unconfirmed` (false),
 *   `flap_window` (10 runs) and `flap_threshold` (3 changes), `expected_ports` (JSON, null: none expected);
 * - scan_results.trigger gains `verify` (a confirmation rescan of a report's changes);
 * - delta_reports: `verification_status` (null: not verified; `pending`; `done`), `verify_result_id` (the
 *   confirmation run; a plain id, no foreign key: SQLite cannot add one to a table in place), the `confirmed_*` counts beside the seed's counts, and
 *   `flapping_count`;
 * - delta_changes: `verification` (`confirmed`, `not_confirmed`, `unverifiable`; null while pending or when not
 *   verified), `flapping`, `exposure` (`expected`, `unexpected`, `missing`; null without expected ports), and
 *   `accepted_at` / `accepted_by` (the user's id, kept as written).
 * Rows stored before keep their meaning: reports not verified, changes neither flapping nor accepted.
 */
export class Migration20261207000000TrustedDeltas extends PortableMigration {
  override up(): void {
    this.replaceRunTriggers(RUN_TRIGGERS);
    this.alterTable('scans', (t) => {
      t.boolean('verify_changes').notNullable().defaultTo(this.literal(true));
      t.integer('verify_delay_seconds').notNullable().defaultTo(this.literal(30));
      t.boolean('announce_unconfirmed').notNullable().defaultTo(this.literal(false));
      t.integer('flap_window').notNullable().defaultTo(this.literal(10));
      t.integer('flap_threshold').notNullable().defaultTo(this.literal(3));
      t.jsonb('expected_ports').nullable();
    });
    this.alterTable('delta_reports', (t) => {
      t.string('verification_status').nullable();
      t.integer('verify_result_id').nullable();
      t.index(['verify_result_id']);
      for (const count of COUNTS) t.integer(`confirmed_${count}`).notNullable().defaultTo(this.literal(0));
      t.integer('flapping_count').notNullable().defaultTo(this.literal(0));
    });
    this.alterTable('delta_changes', (t) => {
      t.string('verification').nullable();
      t.boolean('flapping').notNullable().defaultTo(this.literal(false));
      t.string('exposure').nullable();
      this.timestamp(t, 'accepted_at').nullable();
      t.integer('accepted_by').nullable();
    });
  }

  override down(): void {
    this.alterTable('delta_changes', (t) => {
      for (const c of ['verification', 'flapping', 'exposure', 'accepted_at', 'accepted_by']) t.dropColumn(c);
    });
    this.alterTable('delta_reports', (t) => {
      t.dropIndex(['verify_result_id']);
      t.dropColumn('verification_status');
      t.dropColumn('verify_result_id');
      for (const count of COUNTS) t.dropColumn(`confirmed_${count}`);
      t.dropColumn('flapping_count');
    });
    this.alterTable('scans', (t) => {
      for (const c of [
        'verify_changes',
        'verify_delay_seconds',
        'announce_unconfirmed',
        'flap_window',
        'flap_threshold',
        'expected_ports',
      ])
        t.dropColumn(c);
    });
    this.replaceRunTriggers(RUN_TRIGGERS.filter((t) => t !== 'verify'));
  }
}

/** The seed's five counts, each with a `confirmed_` twin. */
const COUNTS = [
  'new_ports_count',
  'closed_ports_count',
  'changed_services_count',
  'new_hosts_count',
  'removed_hosts_count',
] as const;
