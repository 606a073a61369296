import { PortableMigration } from './portable-migration';

const AGENT_TASK_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'];

/**
 * scan_results.delegation (which scanner clients scan which addresses of the run) and
 * scan_results.unassigned_targets (the addresses no client covered), null for earlier runs (the `local` pool
 * scanned all of them); agent_tasks, the batches given to HTTP agents.
 */
export class Migration20261130050000Delegation extends PortableMigration {
  override up(): void {
    this.alterTable('scan_results', (t) => {
      t.jsonb('delegation').nullable();
      t.jsonb('unassigned_targets').nullable();
    });
    this.createTable('agent_tasks', (t) => {
      t.increments('id');
      t.string('task_id').notNullable().unique();
      t.string('client_id').notNullable().index();
      this.reference(t, 'result_id', 'scan_results');
      t.integer('scan_id').notNullable();
      t.integer('seq').notNullable();
      t.integer('batch_id').nullable();
      t.jsonb('targets').notNullable();
      t.enu('status', AGENT_TASK_STATUSES).notNullable().defaultTo('pending');
      this.timestamp(t, 'deadline').notNullable();
      t.text('error').nullable();
      t.string('results_digest').nullable();
      this.timestamp(t, 'finished_at').nullable();
      this.timestamp(t, 'created_at').notNullable();
      t.index(['result_id', 'seq']);
    });
  }

  override down(): void {
    this.dropTable('agent_tasks');
    this.alterTable('scan_results', (t) => {
      t.dropColumn('delegation');
      t.dropColumn('unassigned_targets');
    });
  }
}
