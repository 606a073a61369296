import { MikroORM, UniqueConstraintViolationException } from '@mikro-orm/core';
import { Test } from '@nestjs/testing';
import {
  createTestDatabase,
  TEST_DATABASES,
  testDatabaseParams,
  type TestDatabase,
} from '../../../test/support/database';
import { BatchRepository } from './batch.repository';
import { ENTITIES, Project, Scan, ScanResult, User } from './entities';
import { checkDatabase } from './health';
import { runMigrations, schemaDrift } from './migrate';
import { MIGRATIONS } from './migrations';
import { createOrmOptions } from './orm-options';
import { PersistenceModule } from './persistence.module';
import { createProject, createUser } from './testing/factories';

const migrationNames = MIGRATIONS.map((migration) => migration.name);

async function executedMigrations(orm: MikroORM): Promise<string[]> {
  return (await orm.migrator.getExecutedMigrations()).map((migration) => migration.name);
}

describe.each(TEST_DATABASES)('persistence schema on %s', (kind) => {
  it('migrates an empty database once, and the entities then match the schema exactly', async () => {
    const params = await testDatabaseParams(kind);
    const orm = await MikroORM.init(
      createOrmOptions({ databaseUrl: params.databaseUrl, schema: params.schema }),
    );
    try {
      expect((await orm.migrator.getPendingMigrations()).map((m) => m.name)).toEqual(migrationNames);

      await runMigrations(orm);
      expect(await executedMigrations(orm)).toEqual(migrationNames);

      await runMigrations(orm);
      expect(await executedMigrations(orm)).toEqual(migrationNames);
      expect(await orm.migrator.getPendingMigrations()).toEqual([]);

      // The key check: what the migrations built is exactly what the entity metadata describes.
      expect(await schemaDrift(orm)).toBe('');
    } finally {
      await orm.close(true);
      await params.cleanup();
    }
  });

  describe('on a migrated database', () => {
    let db: TestDatabase;

    beforeAll(async () => {
      db = await createTestDatabase(kind);
    });

    afterAll(async () => {
      await db?.cleanup();
    });

    it('rejects a second project of the same name for one owner as a unique constraint violation', async () => {
      const em = db.orm.em.fork();
      const owner = await createUser(em);
      const other = await createUser(em);
      await createProject(em, owner, { name: 'Perimeter' });
      await createProject(em, other, { name: 'Perimeter' });

      const duplicate = db.orm.em.fork();
      duplicate.create(Project, { owner: owner.id, name: 'Perimeter' });
      await expect(duplicate.flush()).rejects.toBeInstanceOf(UniqueConstraintViolationException);
    });

    it('reads back what it stored: json arrays, booleans, dates and counts above 2^31', async () => {
      const em = db.orm.em.fork();
      const user = await createUser(em, { email: 'a@example.test', role: 'admin' });
      const project = await createProject(em, user);
      const lastRun = new Date('2025-01-15T09:00:00.123Z');
      const scan = em.create(Scan, {
        owner: user,
        project,
        name: 'Weekly',
        targets: ['127.0.0.0/8', 'localhost'],
        nmapFlags: ['-sT', '-Pn'],
        isScheduled: true,
        intervalMinutes: 10080,
        lastRun,
      });
      const result = em.create(ScanResult, {
        scan,
        runner: 'multiprocessing',
        nmapFlags: ['-sT'],
        targets: ['0.0.0.0/0'],
        chunkSize: 256,
        concurrency: 6,
        targetsTotal: 2 ** 32,
        batchesTotal: 2 ** 24,
        summaryStats: { total_targets: 2 ** 32 },
      });
      await em.flush();

      const read = db.orm.em.fork();
      const storedScan = await read.findOneOrFail(Scan, scan.id);
      expect(storedScan).toMatchObject({
        targets: ['127.0.0.0/8', 'localhost'],
        nmapFlags: ['-sT', '-Pn'],
        runner: 'asyncio',
        chunkSize: 256,
        concurrency: 6,
        isActive: true,
        isScheduled: true,
        isOneOff: false,
        intervalMinutes: 10080,
        nextRun: null,
      });
      expect(storedScan.lastRun?.toISOString()).toBe(lastRun.toISOString());
      const storedResult = await read.findOneOrFail(ScanResult, result.id);
      expect(storedResult).toMatchObject({
        status: 'queued',
        targetsTotal: 2 ** 32,
        batchesTotal: 2 ** 24,
        batchesDone: 0,
        summaryStats: { total_targets: 2 ** 32 },
        startedAt: null,
      });
      expect((await read.findOneOrFail(User, user.id)).role).toBe('admin');
    });

    it('answers the health check', async () => {
      await expect(checkDatabase(db.orm.em.fork())).resolves.toBe(true);
    });
  });

  it('boots the Nest module, migrating on start', async () => {
    const params = await testDatabaseParams(kind);
    const moduleRef = await Test.createTestingModule({
      imports: [
        PersistenceModule.forRoot({ databaseUrl: params.databaseUrl, schema: params.schema, migrate: true }),
      ],
    }).compile();
    try {
      await moduleRef.init();
      const orm = moduleRef.get(MikroORM);
      expect(await executedMigrations(orm)).toEqual(migrationNames);
      expect(moduleRef.get(BatchRepository)).toBeInstanceOf(BatchRepository);
      await expect(checkDatabase(orm.em.fork())).resolves.toBe(true);
    } finally {
      await moduleRef.close();
      await params.cleanup();
    }
  });
});

describe('postgresql schemas', () => {
  it('lets processes that start together migrate one schema without failing', async () => {
    const params = await testDatabaseParams('postgresql');
    const orms = await Promise.all(
      [1, 2, 3].map(() =>
        MikroORM.init(createOrmOptions({ databaseUrl: params.databaseUrl, schema: params.schema })),
      ),
    );
    try {
      await Promise.all(orms.map((orm) => runMigrations(orm)));
      const rows = await orms[0].em
        .getConnection()
        .execute(`select name from "${params.schema}".mikro_orm_migrations order by id`);
      expect(rows.map((row: { name: string }) => row.name)).toEqual(migrationNames);
      expect(await schemaDrift(orms[1])).toBe('');
    } finally {
      await Promise.all(orms.map((orm) => orm.close(true)));
      await params.cleanup();
    }
  });

  it('keeps each schema to itself: tables, migrations table and rows', async () => {
    const [a, b] = await Promise.all([createTestDatabase('postgresql'), createTestDatabase('postgresql')]);
    try {
      await createUser(a.orm.em.fork(), { username: 'only-in-a' });

      expect(await a.orm.em.fork().count(User, { username: 'only-in-a' })).toBe(1);
      expect(await b.orm.em.fork().count(User)).toBe(0);

      const tables = await a.orm.em.getConnection().execute(
        `select table_schema, count(*)::int as n from information_schema.tables
           where table_schema in (?, ?) group by table_schema order by table_schema`,
        [a.schema, b.schema],
      );
      // Every entity table and the migrations table, in each schema.
      expect(tables).toEqual(
        [a.schema, b.schema].sort().map((schema) => ({ table_schema: schema, n: ENTITIES.length + 1 })),
      );
    } finally {
      await Promise.all([a.cleanup(), b.cleanup()]);
    }
  });
});
