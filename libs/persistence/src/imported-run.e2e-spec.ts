import { createTestDatabase, TEST_DATABASES, type TestDatabase } from '../../../test/support/database';
import { BatchRepository, type HostResultInput } from './batch.repository';
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

  it('removes the run with its batch, hosts and ports', async () => {
    const { scan } = await createRun(db.orm.em.fork());
    const resultId = await importThroughRepositories(scan.id);
    await new RunRepository(db.orm.em).remove(resultId);
    expect(await rowsOf(resultId)).toEqual({ run: undefined, batches: [], hosts: [], ports: [] });
  });
});
