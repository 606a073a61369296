// A database of its own for one test file or case: a fresh SQLite file, or a fresh schema in the shared
// PostgreSQL (TEST_DATABASE_URL), dropped again on cleanup. Every integration test runs on both.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MikroORM } from '@mikro-orm/core';
import { createOrmOptions, runMigrations } from '@nso/persistence/testing';

export type DatabaseKind = 'sqlite' | 'postgresql';

export const TEST_DATABASES: DatabaseKind[] = ['sqlite', 'postgresql'];

export interface TestDatabaseParams {
  kind: DatabaseKind;
  /** What the apps read as DATABASE_URL. */
  databaseUrl: string;
  /** What the apps read as DATABASE_SCHEMA (PostgreSQL only). */
  schema?: string;
  cleanup(): Promise<void>;
}

export interface TestDatabase extends TestDatabaseParams {
  /** Connected and migrated. */
  orm: MikroORM;
}

export const testPostgresUrl = (): string =>
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** An empty database for spawned processes (which migrate it themselves); no ORM is kept open here. */
export async function testDatabaseParams(kind: DatabaseKind): Promise<TestDatabaseParams> {
  if (kind === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'nso-test-'));
    return {
      kind,
      databaseUrl: `sqlite:${join(dir, 'netscan.db')}`,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const databaseUrl = testPostgresUrl();
  const schema = `nso_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withPostgres(databaseUrl, (orm) => orm.em.getConnection().execute(`create schema "${schema}"`));
  let dropped = false;
  return {
    kind,
    databaseUrl,
    schema,
    cleanup: async () => {
      if (dropped) return;
      dropped = true;
      await withPostgres(databaseUrl, (orm) =>
        orm.em.getConnection().execute(`drop schema if exists "${schema}" cascade`),
      );
    },
  };
}

/** A migrated database with an ORM on it; `cleanup` closes the ORM and removes the database. */
export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const params = await testDatabaseParams(kind);
  let orm: MikroORM | undefined;
  try {
    orm = await MikroORM.init(createOrmOptions({ databaseUrl: params.databaseUrl, schema: params.schema }));
    await runMigrations(orm);
  } catch (error) {
    await orm?.close(true);
    await params.cleanup();
    throw error;
  }
  const opened = orm;
  return {
    ...params,
    orm: opened,
    cleanup: async () => {
      await opened.close(true);
      await params.cleanup();
    },
  };
}

async function withPostgres<T>(databaseUrl: string, run: (orm: MikroORM) => Promise<T>): Promise<T> {
  let orm: MikroORM | undefined;
  try {
    orm = await MikroORM.init(createOrmOptions({ databaseUrl }));
    await orm.em.getConnection().execute('select 1');
  } catch (error) {
    await orm?.close(true);
    throw postgresUnavailable(databaseUrl, error);
  }
  try {
    return await run(orm);
  } finally {
    await orm.close(true);
  }
}

function postgresUnavailable(databaseUrl: string, error: unknown): Error {
  const reason = error instanceof Error ? error.message : String(error);
  const where = databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  if (process.env.CI) {
    return new Error(
      `CI: the integration tests need PostgreSQL at ${where} and it is not reachable: ${reason}`,
    );
  }
  return new Error(
    `The integration tests need PostgreSQL at ${where} and it is not reachable: ${reason}\n` +
      'Start one with:\n' +
      '  docker run -d --name nso-postgres -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16\n' +
      'or point TEST_DATABASE_URL at another server (the tests create and drop their own schemas in it).',
  );
}
