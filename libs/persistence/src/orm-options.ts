// Builds the MikroORM options for the one database URL the apps are configured with: SQLite by default,
// PostgreSQL when the URL says so. Schema changes only ever come from the migrations, never from sync.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { LoggerNamespace, Options } from '@mikro-orm/core';
import { BetterSqliteDriver } from '@mikro-orm/better-sqlite';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { applySqliteEnumIntrospectionFix } from './sqlite-enum-introspection.fix';

export interface OrmOptionsInput {
  /** `sqlite:<path>`, `file:<path>`, a path ending in `.db`/`.sqlite`, or `postgres(ql)://…`. */
  databaseUrl: string;
  /** PostgreSQL only: the schema holding every table, the migrations table included. */
  schema?: string;
  /** PostgreSQL only: connections per process at most (migrations need two). */
  poolMax?: number;
  debug?: boolean;
}

export type DatabaseTarget =
  { kind: 'sqlite'; path: string } | { kind: 'postgresql'; url: string; schema?: string };

export const MIGRATIONS_TABLE = 'mikro_orm_migrations';

/** Reads a database URL into what it points at; throws on anything it does not recognise. */
export function parseDatabaseUrl(databaseUrl: string, schema?: string): DatabaseTarget {
  const url = databaseUrl.trim();
  if (/^postgres(ql)?:\/\//i.test(url)) {
    if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
      throw new Error(`Invalid PostgreSQL schema name "${schema}": use letters, digits and underscores`);
    }
    return { kind: 'postgresql', url, schema };
  }
  let path: string | undefined;
  const prefixed = /^(sqlite|file):(.*)$/i.exec(url);
  if (prefixed) {
    // `sqlite:///abs/path` and `sqlite://./rel` are accepted as well as `sqlite:./rel`.
    path = prefixed[2].replace(/^\/\/(?=\/|\.)/, '');
  } else if (/\.(db|sqlite|sqlite3)$/i.test(url) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    path = url;
  }
  if (!path) {
    throw new Error(
      `Unsupported database URL "${url}": use sqlite:<path>, file:<path>, a *.db/*.sqlite path, or postgres://…`,
    );
  }
  if (schema !== undefined) {
    throw new Error('A schema can only be given for a PostgreSQL database');
  }
  return { kind: 'sqlite', path: path === ':memory:' ? path : resolve(path) };
}

// Per connection, not per ORM: a pool may open more than one.
function onSqliteConnection(
  connection: { pragma(sql: string): unknown },
  done: (err: Error | null, connection: unknown) => void,
): void {
  try {
    connection.pragma('journal_mode = WAL');
    // In WAL mode NORMAL never corrupts the file; it syncs at checkpoints instead of on every commit, which
    // is most of the cost of a small write. A power cut may lose the last commits, not the database.
    connection.pragma('synchronous = NORMAL');
    connection.pragma('foreign_keys = ON');
    // gateway, worker and delta may share one file: wait for a writer instead of failing at once.
    connection.pragma('busy_timeout = 10000');
    done(null, connection);
  } catch (error) {
    done(error as Error, connection);
  }
}

export function createOrmOptions(input: OrmOptionsInput): Options {
  const target = parseDatabaseUrl(input.databaseUrl, input.schema);
  const common = {
    entities: ENTITIES,
    extensions: [Migrator],
    allowGlobalContext: false,
    ensureDatabase: false,
    // Statements without their values ('query-params' is left out): the values include password hashes and
    // token digests, and no secret may reach a log.
    debug: input.debug ? (['query', 'info', 'discovery'] as LoggerNamespace[]) : false,
    discovery: { disableDynamicFileAccess: true, warnWhenNoEntities: true },
    metadataCache: { enabled: false },
    migrations: {
      tableName: MIGRATIONS_TABLE,
      migrationsList: MIGRATIONS,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: !input.debug,
    },
  } satisfies Options;

  if (target.kind === 'sqlite') {
    applySqliteEnumIntrospectionFix();
    if (target.path !== ':memory:') {
      mkdirSync(dirname(target.path), { recursive: true });
    }
    return {
      ...common,
      driver: BetterSqliteDriver,
      dbName: target.path,
      pool: { afterCreate: onSqliteConnection },
    };
  }

  return {
    ...common,
    driver: PostgreSqlDriver,
    clientUrl: target.url,
    pool: { min: 0, max: Math.max(2, input.poolMax ?? 10) },
    ...(target.schema
      ? {
          // Entities and the migrations table are qualified with the schema by MikroORM itself; the
          // search_path makes anything unqualified (raw SQL, knex builders) land in the same place.
          schema: target.schema,
          driverOptions: { searchPath: [target.schema] },
        }
      : {}),
  };
}
