// Base for migrations that run unchanged on SQLite and PostgreSQL: tables are described once with the knex
// schema builder, which renders each dialect's DDL, and every statement is queued one by one (better-sqlite3
// refuses multi-statement strings).
import { Migration } from '@mikro-orm/migrations';
import type { Knex } from '@mikro-orm/postgresql';

export type TableBuilder = Knex.CreateTableBuilder;

export abstract class PortableMigration extends Migration {
  /** For the rare statement the schema builder cannot express: branch on it, inside the one migration. */
  protected get isPostgres(): boolean {
    return this.getKnex().client.dialect === 'postgresql';
  }

  /** The configured PostgreSQL schema, if any (SQLite has none). */
  protected get schemaName(): string | undefined {
    return this.config.get('schema') || undefined;
  }

  protected schemaBuilder(): Knex.SchemaBuilder {
    const schema = this.getKnex().schema;
    return this.schemaName ? schema.withSchema(this.schemaName) : schema;
  }

  protected addSchemaSql(builder: Knex.SchemaBuilder): void {
    for (const { sql, bindings } of builder.toSQL()) {
      if (Array.isArray(bindings) && bindings.length > 0) {
        throw new Error(`Schema statement with bindings cannot be queued portably: ${sql}`);
      }
      this.addSql(sql);
    }
  }

  protected createTable(name: string, build: (table: TableBuilder) => void): void {
    this.addSchemaSql(this.schemaBuilder().createTable(name, build));
  }

  protected alterTable(name: string, build: (table: TableBuilder) => void): void {
    this.addSchemaSql(this.schemaBuilder().alterTable(name, build));
  }

  protected dropTable(name: string): void {
    this.addSchemaSql(this.schemaBuilder().dropTableIfExists(name));
  }

  /**
   * An unquoted numeric or boolean default. knex quotes these on SQLite (`default '0'`), which SQLite keeps
   * verbatim and MikroORM then reads back as a different default than its own `default 0`.
   */
  protected literal(value: number | boolean): Knex.Raw {
    return this.getKnex().raw(String(value));
  }

  /** `timestamptz` on PostgreSQL, `datetime` on SQLite: what MikroORM maps a `datetime` property to. */
  protected timestamp(table: TableBuilder, name: string): Knex.ColumnBuilder {
    return table.timestamp(name, { useTz: true });
  }

  /**
   * A not-null foreign key to `<parent>.id` that follows updates and deletes of the parent row. It gets its own
   * index when asked, or when the platform indexes every foreign key (MikroORM does on SQLite, not on PostgreSQL).
   */
  protected reference(
    table: TableBuilder,
    column: string,
    parent: string,
    options: { index?: boolean } = {},
  ): void {
    table.integer(column).notNullable();
    if (options.index || this.driver.getPlatform().indexForeignKeys()) {
      table.index([column]);
    }
    table
      .foreign(column)
      .references('id')
      .inTable(this.schemaName ? `${this.schemaName}.${parent}` : parent)
      .onUpdate('cascade')
      .onDelete('cascade');
  }

  /**
   * Replaces scan_results.trigger's CHECK with one allowing `triggers`. It is a CHECK constraint on both databases
   * (knex's enum). PostgreSQL replaces it in place. SQLite cannot alter a CHECK, and rebuilding the table is not
   * possible inside the migrations' transaction (foreign_keys cannot be switched off there, and a rename drags the
   * children's foreign keys along): the column is replaced instead — a new column with the new CHECK, the values
   * copied, the old one dropped (its CHECK goes with it), the new one renamed. It stays the last column.
   */
  protected replaceRunTriggers(triggers: readonly string[]): void {
    const list = triggers.map((t) => `'${t}'`).join(', ');
    if (this.isPostgres) {
      const table = this.schemaName ? `"${this.schemaName}"."scan_results"` : '"scan_results"';
      this.addSql(`alter table ${table} drop constraint if exists "scan_results_trigger_check"`);
      this.addSql(
        `alter table ${table} add constraint "scan_results_trigger_check" check ("trigger" in (${list}))`,
      );
      return;
    }
    this.addSql(
      `alter table \`scan_results\` add column \`trigger_widened\` text check (\`trigger_widened\` in (${list})) not null default 'api-start'`,
    );
    this.addSql('update `scan_results` set `trigger_widened` = `trigger`');
    this.addSql('alter table `scan_results` drop column `trigger`');
    this.addSql('alter table `scan_results` rename column `trigger_widened` to `trigger`');
  }
}
