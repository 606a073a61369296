// The status rule has two forms, a function of a row and a database filter; on both databases they must select
// the same rows, or a client would be listed under one status and shown with another.
import { createTestDatabase, TEST_DATABASES, type TestDatabase } from '../../../test/support/database';
import { clientStatus, clientStatusFilter } from './client-status';
import { Client, CLIENT_STATUSES } from './entities';

const NOW = new Date('2026-11-30T03:00:00.000Z');
const OFFLINE_AFTER = 180_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms);

describe.each(TEST_DATABASES)('client status filter on %s', (kind) => {
  let db: TestDatabase;
  beforeAll(async () => (db = await createTestDatabase(kind)));
  afterAll(() => db?.cleanup());

  it('selects exactly the rows clientStatus gives each status', async () => {
    const em = db.orm.em.fork();
    const seen = [null, ago(1), ago(OFFLINE_AFTER - 1), ago(OFFLINE_AFTER), ago(OFFLINE_AFTER + 1)];
    let n = 0;
    for (const lastSeen of seen) {
      for (const status of CLIENT_STATUSES) {
        for (const isEnabled of [true, false]) {
          em.create(Client, {
            clientId: `c${++n}`,
            kind: 'agent',
            scanRange: [],
            lastSeen,
            status,
            isEnabled,
          });
        }
      }
    }
    await em.flush();

    const rows = await db.orm.em.fork().find(Client, {}, { orderBy: { id: 'asc' } });
    expect(rows).toHaveLength(n);
    for (const status of CLIENT_STATUSES) {
      const selected = await db.orm.em
        .fork()
        .find(Client, clientStatusFilter(status, NOW, OFFLINE_AFTER), { orderBy: { id: 'asc' } });
      const expected = rows.filter((row) => clientStatus(row, NOW, OFFLINE_AFTER) === status);
      expect(selected.map((row) => row.clientId)).toEqual(expected.map((row) => row.clientId));
      expect(expected.length).toBeGreaterThan(0);
    }
  });
});
