import { PortableMigration } from './portable-migration';

/** Bearer tokens of REST clients, stored as SHA-256 digests. */
export class Migration20261122000000ApiTokens extends PortableMigration {
  override up(): void {
    this.createTable('api_tokens', (t) => {
      t.increments('id');
      this.reference(t, 'user_id', 'users');
      t.string('name').notNullable();
      t.string('token_hash').notNullable().unique();
      this.timestamp(t, 'created_at').notNullable();
      this.timestamp(t, 'last_used_at').nullable();
    });
  }

  override down(): void {
    this.dropTable('api_tokens');
  }
}
