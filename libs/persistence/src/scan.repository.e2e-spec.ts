import { createTestDatabase, TEST_DATABASES, type TestDatabase } from '../../../test/support/database';
import { Scan, ScheduleFire } from './entities';
import { RunRepository } from './run.repository';
import { DuplicateFireError, ScanRepository, type ScanDefinitionFields } from './scan.repository';
import { createProject, createRun, createUser } from './testing/factories';

const settings = {
  resolvedNames: {},
  nmapFlags: ['-sT'],
  runner: 'asyncio' as const,
  chunkSize: 4,
  concurrency: 2,
  targetsTotal: 1,
  batchesTotal: 1,
  delegation: [],
  unassignedTargets: [],
};

describe.each(TEST_DATABASES)('ScanRepository on %s', (kind) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });

  afterAll(async () => {
    await db?.cleanup();
  });

  const repo = () => new ScanRepository(db.orm.em);
  const row = (id: number) => db.orm.em.fork().findOneOrFail(Scan, id);

  async function owner() {
    const em = db.orm.em.fork();
    const user = await createUser(em);
    const project = await createProject(em, user, { isDefault: true });
    const other = await createProject(em, user);
    return { ownerId: user.id, projectId: project.id, otherProjectId: other.id };
  }

  const definition = (
    projectId: number,
    fields: Partial<ScanDefinitionFields> = {},
  ): ScanDefinitionFields => ({
    projectId,
    name: 'lab',
    description: null,
    targets: ['127.0.0.1'],
    ports: '22',
    nmapFlags: ['-sT'],
    runner: 'asyncio',
    chunkSize: 8,
    concurrency: 2,
    intervalMinutes: 30,
    cron: null,
    timezone: null,
    isActive: true,
    isScheduled: true,
    ...fields,
  });

  it('creates a definition, changes only the fields given, and finds it for its owner only', async () => {
    const { ownerId, projectId, otherProjectId } = await owner();
    const created = await repo().create({ ownerId, ...definition(projectId) });
    expect(await row(created.id)).toMatchObject({
      name: 'lab',
      targets: ['127.0.0.1'],
      ports: '22',
      intervalMinutes: 30,
      isOneOff: false,
      lastRun: null,
    });

    const updated = await repo().update(created.id, {
      name: 'renamed',
      projectId: otherProjectId,
      cron: '0 6 * * 1',
      intervalMinutes: null,
      description: null,
    });
    expect(updated).toMatchObject({ name: 'renamed', cron: '0 6 * * 1', intervalMinutes: null, ports: '22' });
    const stored = await row(created.id);
    expect(stored).toMatchObject({ name: 'renamed', cron: '0 6 * * 1', intervalMinutes: null, ports: '22' });
    expect(stored.project.id).toBe(otherProjectId);

    expect((await repo().findOwned(ownerId, created.id))?.id).toBe(created.id);
    expect(await repo().findOwned(ownerId + 1000, created.id)).toBeNull();
    expect(await repo().ownedIds(ownerId, [created.id, created.id + 1000])).toEqual([created.id]);
    expect(await repo().scheduledIds()).toContain(created.id);
    await repo().update(created.id, { isActive: false });
    expect(await repo().scheduledIds()).not.toContain(created.id);
  });

  it('stores next_run and reserves disjoint blocks of event seqs', async () => {
    const { ownerId, projectId } = await owner();
    const { id } = await repo().create({ ownerId, ...definition(projectId) });
    const next = new Date('2027-01-01T06:00:00Z');
    await repo().setNextRun(id, next);
    expect((await row(id)).nextRun).toEqual(next);
    await repo().setNextRun(id, null);
    expect((await row(id)).nextRun).toBeNull();

    const blocks = await Promise.all([repo().reserveEventSeqs(id, 10), repo().reserveEventSeqs(id, 5)]);
    const sorted = blocks.sort((a, b) => a.after - b.after);
    expect(sorted[0].after).toBe(0);
    expect(sorted[1].after).toBe(sorted[0].upTo);
    expect(sorted[1].upTo).toBe(15);
    await expect(repo().reserveEventSeqs(id + 1000, 1)).rejects.toThrow(/does not exist/);
    await expect(repo().reserveEventSeqs(id, 0)).rejects.toThrow(/cannot reserve/);
  });

  it('records fires: a started one with its run once, a skipped one once, newest first', async () => {
    const { scan } = await createRun(db.orm.em.fork());
    const runs = new RunRepository(db.orm.em);
    const fire = { key: 'repeat:scan:1000', dueAt: new Date(1_000_000) };
    const resultId = await runs.insert({
      scanId: scan.id,
      trigger: 'schedule',
      targets: ['127.0.0.1'],
      fire,
      ...settings,
    });
    await expect(
      runs.insert({ scanId: scan.id, trigger: 'schedule', targets: ['127.0.0.1'], fire, ...settings }),
    ).rejects.toBeInstanceOf(DuplicateFireError);
    expect((await row(scan.id)).lastRun).not.toBeNull();

    const skipped = { scanId: scan.id, key: 'repeat:scan:2000', dueAt: new Date(2_000_000), reason: 'busy' };
    await repo().recordSkippedFire(skipped);
    await repo().recordSkippedFire({ ...skipped, reason: 'again' });

    const fires = await repo().recentFires(scan.id, 10);
    expect(fires.map((f) => [f.outcome, f.reason, f.resultId])).toEqual([
      ['skipped', 'busy', null],
      ['started', null, resultId],
    ]);
    expect(await repo().countSkippedFires(scan.id)).toBe(1);
    expect(await repo().lastFireDueAt(scan.id)).toEqual(new Date(2_000_000));
    expect(await db.orm.em.fork().count(ScheduleFire, { scan: scan.id })).toBe(2);
  });

  it('writes the one-off scan of a run started from POST /api/scans/start', async () => {
    const { ownerId, projectId } = await owner();
    const { scanId } = await new RunRepository(db.orm.em).insertOneOff({
      ownerId,
      projectId,
      name: 'Scan of 127.0.0.1',
      targets: ['127.0.0.1'],
      ...settings,
    });
    expect(await row(scanId)).toMatchObject({
      isOneOff: true,
      isActive: true,
      isScheduled: false,
      targets: ['127.0.0.1'],
      nmapFlags: ['-sT'],
      chunkSize: 4,
      concurrency: 2,
    });
    expect((await row(scanId)).lastRun).not.toBeNull();
  });
});
