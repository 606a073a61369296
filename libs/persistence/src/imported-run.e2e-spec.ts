import { createTestDatabase, TEST_DATABASES, type TestDatabase } from '../../../test/support/database';
import { BatchRepository, HostRows, PiecesStartOver, type HostResultInput } from './batch.repository';
import { RunRepository } from './run.repository';
import { knexOf } from './sql';
import { createRun } from './testing/factories';

const hosts: HostResultInput[] = [
  {
    address: '127.0.0.5',
    addressType: 'ipv4',
    hostnames: [],
    state: 'up',
    reason: 'syn-ack',
    ports: [
      { protocol: 'tcp', port: 22, state: 'open', service: { name: 'ssh', product: 'OpenSSH' } },
      { protocol: 'tcp', port: 80, state: 'closed' },
    ],
    extraPorts: [{ state: 'filtered', count: 998 }],
  },
  { address: '::1', addressType: 'ipv6', hostnames: [], state: 'down', ports: [] },
];
const startedAt = new Date('2026-11-22T22:09:42Z');
const finishedAt = new Date('2026-11-22T22:09:44Z');

// The XML import became a run command (RunService.importRun) going through these repositories' conditional
// updates: its rows must stay exactly what the import wrote with its own statements before (the reference below).
describe.each(TEST_DATABASES)('an imported run on %s', (kind) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await db?.cleanup();
  });
  const rowOf = (table: string, id: number) => knexOf(db.orm.em)(table).where({ id }).first();

  /** What RunService.importRun does, through the repositories. */
  async function importThroughRepositories(scanId: number): Promise<number> {
    const runs = new RunRepository(db.orm.em);
    const batches = new BatchRepository(db.orm.em);
    const targets = hosts.map((h) => h.address);
    const resultId = await runs.insertImported({
      scanId,
      runner: 'asyncio',
      nmapFlags: ['-sT', '-p22'],
      targets,
    });
    const { batchId } = await batches.start({ resultId, seq: 1, targets, workerId: 'import', startedAt });
    await batches.storeResult({ batchId, workerId: 'import', exitCode: 0, stderr: null, finishedAt, hosts });
    expect(await runs.complete(resultId, finishedAt)).toMatchObject({ status: 'completed' });
    return resultId;
  }

  /** The import's own statements before it was a run command (results-import.service.ts until issue 19). */
  async function importAsBefore(scanId: number): Promise<number> {
    const knex = knexOf(db.orm.em);
    const addresses = hosts.map((h) => h.address);
    const { resultId, batchId } = await knex.transaction(async (trx) => {
      const [run]: Array<{ id: number | string }> = await trx('scan_results')
        .insert({
          scan_id: scanId,
          status: 'running',
          trigger: 'import',
          runner: 'asyncio',
          nmap_flags: JSON.stringify(['-sT', '-p22']),
          targets: JSON.stringify(addresses),
          chunk_size: Math.max(1, addresses.length),
          concurrency: 1,
          targets_total: addresses.length,
          batches_total: 1,
          created_at: new Date(),
          started_at: startedAt,
        })
        .returning(['id']);
      const [batch]: Array<{ id: number | string }> = await trx('batches')
        .insert({
          result_id: Number(run.id),
          seq: 1,
          targets: JSON.stringify(addresses),
          status: 'running',
          attempts: 1,
          worker_id: 'import',
          created_at: new Date(),
          started_at: startedAt,
        })
        .returning(['id']);
      return { resultId: Number(run.id), batchId: Number(batch.id) };
    });
    await new BatchRepository(db.orm.em).storeResult({
      batchId,
      workerId: 'import',
      exitCode: 0,
      stderr: null,
      finishedAt,
      hosts,
    });
    await knex('scan_results')
      .where({ id: resultId })
      .update({ status: 'completed', finished_at: finishedAt });
    return resultId;
  }

  /** Every row of the run, without ids, foreign keys and creation times. */
  async function rowsOf(resultId: number) {
    const knex = knexOf(db.orm.em);
    const strip = (row: Record<string, unknown>) => {
      const { id: _id, result_id: _r, batch_id: _b, host_id: _h, scan_id: _s, created_at: _c, ...rest } = row;
      return rest;
    };
    const run = await knex('scan_results').where({ id: resultId }).first();
    const batches = await knex('batches').where({ result_id: resultId });
    const hostRows = await knex('hosts').where({ result_id: resultId }).orderBy('address');
    const ports = await knex('ports')
      .whereIn(
        'host_id',
        hostRows.map((h: { id: number }) => h.id),
      )
      .orderBy(['protocol', 'port']);
    return {
      run: run ? strip(run) : undefined,
      batches: batches.map(strip),
      hosts: hostRows.map(strip),
      ports: ports.map(strip),
    };
  }

  it('stores the same rows as the import did with its own statements, and leaves last_run alone', async () => {
    const { scan } = await createRun(db.orm.em.fork());
    const before = await rowOf('scans', scan.id);
    const now = await rowsOf(await importThroughRepositories(scan.id));
    const reference = await rowsOf(await importAsBefore(scan.id));
    expect(now).toEqual(reference);
    expect(now.run).toMatchObject({ status: 'completed', trigger: 'import', batches_done: 1 });
    expect(now.hosts).toHaveLength(2);
    expect(now.ports).toHaveLength(2);
    expect(await rowOf('scans', scan.id)).toEqual(before);
  });

  /** A run stored queued with no targets yet and its batch started, as RunService.importRun makes them. */
  async function startedImport(scanId: number) {
    const runs = new RunRepository(db.orm.em);
    const batches = new BatchRepository(db.orm.em);
    const resultId = await runs.insertImported({
      scanId,
      runner: 'asyncio',
      nmapFlags: ['-sS'],
      targets: [],
    });
    const start = { resultId, seq: 1, targets: [], workerId: 'import', startedAt: finishedAt };
    const { batchId } = await batches.start(start);
    return { runs, batches, resultId, batchId };
  }
  const stored = { workerId: 'import', exitCode: 0, stderr: null };
  /** Yields `pieces` one at a time as if they arrived later, then throws `error` if given. */
  async function* arriving(pieces: HostRows[], error?: Error): AsyncGenerator<HostRows> {
    for (const piece of pieces) {
      await new Promise((resolve) => setImmediate(resolve));
      yield piece;
    }
    if (error) throw error;
  }

  // Issue 20 point 2: the import stores a file's pieces while it is still parsed.
  it('stores pieces as they arrive, drops them on a start-over, and writes the facts known last', async () => {
    const { scan } = await createRun(db.orm.em.fork());
    const reference = await rowsOf(await importThroughRepositories(scan.id));
    const { runs, batches, resultId, batchId } = await startedImport(scan.id);
    const down = { ...hosts[1], address: '127.0.0.2', addressType: 'ipv4' } as HostResultInput;
    // First in file order, then: an address listed again — every piece once more, the first one dropped.
    const first = arriving(
      [HostRows.of([hosts[0]]), HostRows.of([down])],
      new PiecesStartOver(arriving([HostRows.of([hosts[0]]), HostRows.of([hosts[1]])])),
    );
    const outcome = await batches.storeResultInPieces({
      ...stored,
      batchId,
      finishedAt: new Date('2026-11-22T22:00:00Z'),
      hosts: first,
      facts: () => ({ targets: ['127.0.0.5', '::1'], nmapFlags: ['-sT', '-p22'], startedAt, finishedAt }),
    });
    expect(outcome).toEqual({ stored: true, hostsUp: 1, openPorts: 1, resultId });
    expect(await runs.complete(resultId, finishedAt)).toMatchObject({ status: 'completed' });
    expect(await rowsOf(resultId)).toEqual(reference);
    const dated = await knexOf(db.orm.em)('hosts').where({ result_id: resultId }).select('created_at');
    const times = dated.map((row: { created_at: unknown }) => new Date(row.created_at as string).getTime());
    expect(times).toEqual([finishedAt.getTime(), finishedAt.getTime()]);
  });

  it('rolls every piece back when the pieces fail after some were stored (a file refused late)', async () => {
    const { scan } = await createRun(db.orm.em.fork());
    const { runs, batches, resultId, batchId } = await startedImport(scan.id);
    const refused = new Error('192.0.2.1 is outside the scan scope');
    await expect(
      batches.storeResultInPieces({
        ...stored,
        batchId,
        finishedAt,
        hosts: arriving([HostRows.of([hosts[0]]), HostRows.of([hosts[1]])], refused),
        facts: () => ({ targets: ['127.0.0.5', '::1'], nmapFlags: ['-sT'], startedAt, finishedAt }),
      }),
    ).rejects.toBe(refused);
    const left = await rowsOf(resultId);
    expect(left.hosts).toEqual([]);
    expect(left.batches).toEqual([expect.objectContaining({ status: 'running', hosts_up: 0 })]);
    await runs.remove(resultId);
    expect(await rowsOf(resultId)).toEqual({ run: undefined, batches: [], hosts: [], ports: [] });
    // No port row outlived its host.
    const knex = knexOf(db.orm.em);
    const orphans = await knex('ports').whereNotIn('host_id', knex('hosts').select('id')).count({ n: '*' });
    expect(Number(orphans[0].n)).toBe(0);
  });

  it('removes the run with its batch, hosts and ports', async () => {
    const { scan } = await createRun(db.orm.em.fork());
    const resultId = await importThroughRepositories(scan.id);
    await new RunRepository(db.orm.em).remove(resultId);
    expect(await rowsOf(resultId)).toEqual({ run: undefined, batches: [], hosts: [], ports: [] });
  });
});
