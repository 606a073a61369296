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
}
