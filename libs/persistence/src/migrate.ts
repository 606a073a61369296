// Applies pending migrations at start-up. Several processes (gateway replicas, workers, delta) may start at
// once and MikroORM's migrator takes no lock of its own, so the run is serialised here.
import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/core';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import { MIGRATIONS_TABLE } from './orm-options';

const SQLITE_ATTEMPTS = 8;
const POSTGRES_ATTEMPTS = 3;

/**
 * Brings the schema up to date, once, whatever else is starting at the same time.
 *
 * - PostgreSQL: the migrator runs while this process holds a transaction-scoped advisory lock keyed by the
 *   schema, so a second process waits, then finds nothing pending. The lock sits on its own pooled connection
 *   (the migrator uses others), and is released on commit, rollback or a dropped connection.
 * - SQLite: writers already exclude each other; a process that loses the race sees `SQLITE_BUSY` or
 *   "already exists", waits, and retries — by then the winner's migrations are recorded and it is a no-op.
 */
export async function runMigrations(orm: MikroORM): Promise<void> {
  if (orm.em.getPlatform() instanceof PostgreSqlPlatform) {
    await withPostgresMigrationLock(orm, async () => {
      // The migrator first lists the tables of every schema of the database (MikroORM's MigrationStorage
      // ensureTable), casting each name to a regclass: a schema another process drops meanwhile (parallel test
      // runs) fails that read with "schema … does not exist". Nothing was written then; the read is made again.
      for (let attempt = 1; ; attempt++) {
        try {
          await orm.migrator.up();
          return;
        } catch (error) {
          if (attempt >= POSTGRES_ATTEMPTS || !isOtherSchemaRaceError(error)) throw error;
        }
      }
    });
    return;
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await orm.migrator.up();
      return;
    } catch (error) {
      if (attempt >= SQLITE_ATTEMPTS || !isSqliteRaceError(error)) {
        throw error;
      }
      await sleep(50 * attempt + Math.floor(Math.random() * 50));
    }
  }
}

/**
 * The SQL that would make the database match the entities; empty when migrations and entities agree.
 * Restricted to the configured schema: unrestricted, MikroORM compares every schema in the PostgreSQL
 * database and would offer to drop the tables of all the others; the other schemas are left out of its
 * introspection too, and a read that met a schema being dropped is made again (at most three tries).
 */
export async function schemaDrift(orm: MikroORM): Promise<string> {
  const platform = orm.em.getPlatform();
  const schema = platform instanceof PostgreSqlPlatform ? (orm.config.get('schema') ?? 'public') : undefined;
  // MikroORM reads the tables and indexes of every schema of the database, and other processes (parallel test
  // runs) create and drop theirs meanwhile: PostgreSQL then answers "could not open relation with OID …" or an
  // index definition of null. The other schemas present are ignored, and a read that still met one is repeated.
  for (let attempt = 1; ; attempt++) {
    try {
      if (schema !== undefined) {
        const others: Array<{ schema_name: string }> = await orm.em
          .getConnection()
          .execute('select schema_name from information_schema.schemata where schema_name <> ?', [schema]);
        orm.config.set('schemaGenerator', {
          ...orm.config.get('schemaGenerator'),
          ignoreSchema: others.map((row) => row.schema_name),
        });
      }
      const sql = await orm.schema.getUpdateSchemaSQL({ schema, wrap: false });
      return sql.trim();
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

async function withPostgresMigrationLock(orm: MikroORM, run: () => Promise<void>): Promise<void> {
  const schema = orm.config.get('schema') ?? 'public';
  const connection = orm.em.getConnection();
  await connection.transactional(async (trx) => {
    await connection.execute(
      'select pg_advisory_xact_lock(hashtext(?))',
      [`nso:${MIGRATIONS_TABLE}:${schema}`],
      'all',
      trx,
    );
    await run();
  });
}

/** PostgreSQL's answer to a catalogue read that met a schema or table being dropped by another process. */
function isOtherSchemaRaceError(error: unknown): boolean {
  const message = (error as Error)?.message ?? '';
  return /schema "[^"]+" does not exist|could not open relation with OID/.test(message);
}

function isSqliteRaceError(error: unknown): boolean {
  const text = `${(error as { code?: string })?.code ?? ''} ${(error as Error)?.message ?? ''}`;
  return /SQLITE_BUSY|SQLITE_LOCKED|database is locked|already exists/i.test(text);
}
