import { DriverException, MikroORM } from '@mikro-orm/core';
import { createTestDatabase, TEST_DATABASES, type TestDatabase } from '../../../test/support/database';
import { ApiToken, User } from './entities';
import { logSafeError } from './log-safe-error';
import { createOrmOptions } from './orm-options';

// The secrets that real failing statements carried into the log before (issue 8): a scrypt hash, a digest.
const SECRET_HASH = 'scrypt$16384$8$1$c2FsdHNhbHQ=$c2VjcmV0LWhhc2gtdGhhdC1tdXN0LW5vdC1sZWFr';
const SECRET_DIGEST = 'ef8ab8f748ca594b87c5aa2a7cd53fc071eceb15ecd05026f56f18d97b27ec3e';

describe.each(TEST_DATABASES)('database errors in the log (%s)', (kind) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await db?.cleanup();
  });

  /** The driver error of a statement that fails, carrying `secret` among its values. */
  async function failingInsert(row: Record<string, unknown>): Promise<DriverException> {
    try {
      const em = db.orm.em.fork();
      em.create(User, row as never);
      await em.flush();
    } catch (error) {
      if (error instanceof DriverException) return error;
      throw error;
    }
    throw new Error('the insert did not fail');
  }

  it('names the error class and code, never the statement or its values', async () => {
    // NUL in text: PostgreSQL refuses the encoding, SQLite cuts the statement at it.
    const error = await failingInsert({ username: 'a\u0000b', passwordHash: SECRET_HASH, role: 'user' });
    expect(error.message).toContain(SECRET_HASH); // what the driver put in its message, and the log got
    const logged = logSafeError(error);
    expect(logged).not.toContain(SECRET_HASH);
    expect(logged).not.toMatch(/insert into/i);
    expect(logged).toMatch(/^\w*Exception \(.*statement and values withheld\)/);
    expect(logged).toMatch(/\n\s+at /);
  });

  it('leaves out the value PostgreSQL quotes in the detail of a unique violation', async () => {
    const em = db.orm.em.fork();
    const user = em.create(User, { username: `owner-${kind}`, passwordHash: 'x', role: 'user' });
    await em.flush();
    const insert = async () => {
      const fork = db.orm.em.fork();
      fork.create(ApiToken, { user: fork.getReference(User, user.id), name: 't', tokenHash: SECRET_DIGEST });
      await fork.flush();
    };
    await insert();
    const error = await insert().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DriverException);
    expect(JSON.stringify({ ...(error as object), message: (error as Error).message })).toContain(
      SECRET_DIGEST,
    );
    expect(logSafeError(error)).not.toContain(SECRET_DIGEST);
  });

  it('describes anything else by its stack', () => {
    const error = new Error('plain failure');
    expect(logSafeError(error)).toBe(error.stack);
    expect(logSafeError('text')).toBe('text');
  });
});

describe.each(TEST_DATABASES)('the ORM debug log (%s)', (kind) => {
  it('shows statements without their values', async () => {
    const db = await createTestDatabase(kind);
    const lines: string[] = [];
    const orm = await MikroORM.init({
      ...createOrmOptions({ databaseUrl: db.databaseUrl, schema: db.schema, debug: true }),
      logger: (line: string) => lines.push(line),
    });
    try {
      const em = orm.em.fork();
      em.create(User, { username: `debug-${kind}`, passwordHash: SECRET_HASH, role: 'user' });
      await em.flush();
      const statements = lines.filter((line) => /insert into/i.test(line));
      expect(statements).toHaveLength(1);
      expect(lines.join('\n')).not.toContain(SECRET_HASH);
    } finally {
      await orm.close(true);
      await db.cleanup();
    }
  });
});
