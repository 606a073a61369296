import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BetterSqliteDriver } from '@mikro-orm/better-sqlite';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { createOrmOptions, parseDatabaseUrl } from './orm-options';
import { parseSqliteEnumItems } from './sqlite-enum-introspection.fix';

describe('parseDatabaseUrl', () => {
  it.each([
    ['sqlite:./data/netscan.db', resolve('data/netscan.db')],
    ['sqlite:///var/lib/nso/netscan.db', '/var/lib/nso/netscan.db'],
    ['file:/tmp/x.sqlite', '/tmp/x.sqlite'],
    ['./data/netscan.db', resolve('data/netscan.db')],
    ['/srv/nso.sqlite', '/srv/nso.sqlite'],
    ['sqlite::memory:', ':memory:'],
  ])('reads %s as a SQLite file', (url, path) => {
    expect(parseDatabaseUrl(url)).toEqual({ kind: 'sqlite', path });
  });

  it.each(['postgres://u:p@db:5432/nso', 'postgresql://db/nso?sslmode=require'])(
    'reads %s as PostgreSQL',
    (url) => {
      expect(parseDatabaseUrl(url, 'tenant_1')).toEqual({ kind: 'postgresql', url, schema: 'tenant_1' });
    },
  );

  it.each(['mysql://db/nso', 'netscan', 'http://x/y.db', ''])('refuses %p', (url) => {
    expect(() => parseDatabaseUrl(url)).toThrow(/Unsupported database URL/);
  });

  it('refuses a schema it cannot quote safely, and a schema for SQLite', () => {
    expect(() => parseDatabaseUrl('postgres://db/nso', 'a"; drop')).toThrow(/Invalid PostgreSQL schema/);
    expect(() => parseDatabaseUrl('sqlite:./x.db', 'tenant')).toThrow(/only be given for a PostgreSQL/);
  });
});

describe('createOrmOptions', () => {
  it('configures SQLite with explicit entities and migrations, no global context and no schema sync', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nso-opts-'));
    try {
      const options = createOrmOptions({ databaseUrl: `sqlite:${join(dir, 'nested', 'netscan.db')}` });
      expect(options).toMatchObject({
        driver: BetterSqliteDriver,
        dbName: join(dir, 'nested', 'netscan.db'),
        entities: ENTITIES,
        allowGlobalContext: false,
        ensureDatabase: false,
        migrations: { migrationsList: MIGRATIONS, snapshot: false },
      });
      expect(existsSync(join(dir, 'nested'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('puts a PostgreSQL schema in both the ORM options and the connection search_path', () => {
    expect(createOrmOptions({ databaseUrl: 'postgres://db/nso', schema: 'tenant_1' })).toMatchObject({
      driver: PostgreSqlDriver,
      clientUrl: 'postgres://db/nso',
      schema: 'tenant_1',
      driverOptions: { searchPath: ['tenant_1'] },
    });
    expect(createOrmOptions({ databaseUrl: 'postgres://db/nso' }).schema).toBeUndefined();
  });
});

describe('parseSqliteEnumItems', () => {
  it('keeps every value, including commas and doubled quotes inside values', () => {
    expect(parseSqliteEnumItems(`'queued', 'running', 'completed', 'it''s, odd'`)).toEqual([
      'queued',
      'running',
      'completed',
      "it's, odd",
    ]);
  });
});
