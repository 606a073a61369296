import { createTestDatabase, TEST_DATABASES, type TestDatabase } from '../../../test/support/database';
import { AssetQueries } from './asset.queries';
import { Batch, Host, Port, ScanResult } from './entities';
import { createRun, type SeededRun } from './testing/factories';

// The coverage reads of AssetQueries on both databases: a run that covered an address without listing it, a
// failed batch (no coverage), an address that is a prefix of another (127.0.0.1 in "127.0.0.10"), and owners.
describe.each(TEST_DATABASES)('AssetQueries on %s', (kind) => {
  let db: TestDatabase;
  let assets: AssetQueries;
  let mine: SeededRun;
  let theirs: SeededRun;
  let second: ScanResult;
  let queued: ScanResult;
  let verify: ScanResult;
  let listed: Host;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    assets = new AssetQueries(db.orm.em);
    const em = db.orm.em.fork();
    // Run 1: batch 1 (127.0.0.1-4) completed, listing .1 (tcp/22 open) and .2; batch 2 (127.0.1.1-4) failed.
    mine = await createRun(em, { batches: 2 });
    mine.result.status = 'completed';
    mine.batches[0].status = 'completed';
    mine.batches[1].status = 'failed';
    listed = em.create(Host, {
      result: mine.result,
      batch: mine.batches[0],
      address: '127.0.0.1',
      addressType: 'ipv4',
      state: 'up',
      unlistedStates: 'closed,filtered',
    });
    em.create(Port, { host: listed, protocol: 'tcp', port: 22, state: 'open', serviceName: 'ssh' });
    em.create(Port, { host: listed, protocol: 'tcp', port: 80, state: 'closed' });
    em.create(Host, {
      result: mine.result,
      batch: mine.batches[0],
      address: '127.0.0.2',
      addressType: 'ipv4',
      state: 'up',
    });
    // Run 2 of the same scan: one completed batch of 127.0.0.10 and 127.0.0.2, listing nothing.
    const run = (status: ScanResult['status']) =>
      em.create(ScanResult, {
        scan: mine.scan,
        status,
        runner: 'asyncio',
        nmapFlags: ['-sT', '-p22'],
        targets: ['127.0.0.0/24'],
        chunkSize: 2,
        concurrency: 1,
        targetsTotal: 2,
        batchesTotal: 1,
        finishedAt: status === 'completed' ? new Date('2026-12-01T00:00:00Z') : null,
      });
    second = run('completed');
    em.create(Batch, { result: second, seq: 1, targets: ['127.0.0.10', '127.0.0.2'], status: 'completed' });
    // Run 3, queued: its batch covers 127.0.0.1 but has not run.
    queued = run('queued');
    em.create(Batch, { result: queued, seq: 1, targets: ['127.0.0.1'] });
    // Run 4, a confirmation rescan (trigger verify) listing 127.0.0.3: seen by the address reads, not the inventory.
    verify = run('completed');
    verify.trigger = 'verify';
    const verifyBatch = em.create(Batch, {
      result: verify,
      seq: 1,
      targets: ['127.0.0.3'],
      status: 'completed',
    });
    em.create(Host, {
      result: verify,
      batch: verifyBatch,
      address: '127.0.0.3',
      addressType: 'ipv4',
      state: 'up',
    });
    // Another user's run listing 127.0.0.1.
    theirs = await createRun(em, { batches: 1 });
    theirs.batches[0].status = 'completed';
    em.create(Host, {
      result: theirs.result,
      batch: theirs.batches[0],
      address: '127.0.0.1',
      addressType: 'ipv4',
      state: 'down',
    });
    await em.flush();
  });

  afterAll(async () => {
    await db?.cleanup();
  });

  it('finds the host rows of an address in the owner’s runs only', async () => {
    const rows = await assets.sightings(mine.user.id, '127.0.0.1');
    expect(rows).toEqual([
      expect.objectContaining({
        result_id: mine.result.id,
        scan_id: mine.scan.id,
        scan_name: mine.scan.name,
        host_id: listed.id,
        state: 'up',
        nmap_flags: ['-sT'],
        unlisted_states: ['closed', 'filtered'],
      }),
    ]);
    expect((await assets.sightings(theirs.user.id, '127.0.0.1')).map((r) => r.state)).toEqual(['down']);
    await expect(assets.sightings(mine.user.id, '127.0.0.10')).resolves.toEqual([]);
  });

  it('finds the runs whose completed batches covered an address, listed or not', async () => {
    const ids = async (address: string, after?: number) =>
      (await assets.coveringRuns(mine.user.id, address, after)).map((r) => r.result_id);
    expect(await ids('127.0.0.2')).toEqual([second.id, mine.result.id]);
    expect(await ids('127.0.0.2', mine.result.id)).toEqual([second.id]);
    // "127.0.0.10" is no cover of 127.0.0.1; the queued run's batch has not run.
    expect(await ids('127.0.0.1')).toEqual([mine.result.id]);
    // A failed batch covered nothing.
    expect(await ids('127.0.1.1')).toEqual([]);
    // Runs of another user's scans are never read (theirs covered 127.0.0.1-4, not 127.0.0.10).
    expect(await ids('127.0.0.10')).toEqual([second.id]);
    expect((await assets.coveringRuns(theirs.user.id, '127.0.0.10')).length).toBe(0);
    expect((await assets.coveringRuns(theirs.user.id, '127.0.0.2')).map((r) => r.result_id)).toEqual([
      theirs.result.id,
    ]);
    expect(await assets.coveredBy(second.id)).toEqual(new Set(['127.0.0.10', '127.0.0.2']));
    expect(await ids('127.0.0.3')).toEqual([verify.id, mine.result.id]);
    expect((await assets.sightings(mine.user.id, '127.0.0.3')).map((r) => r.trigger)).toEqual(['verify']);
  });

  it('sums up a scan’s addresses (verify rescans left out) and reads port rows by host', async () => {
    const summaries = await assets.hostSummaries(mine.scan.id);
    expect(summaries.sort((a, b) => (a.address < b.address ? -1 : 1))).toEqual([
      {
        address: '127.0.0.1',
        first_up_result_id: mine.result.id,
        last_up_result_id: mine.result.id,
        last_row_result_id: mine.result.id,
        last_row_host_id: listed.id,
        last_row_state: 'up',
      },
      expect.objectContaining({ address: '127.0.0.2', last_row_result_id: mine.result.id }),
    ]);
    expect((await assets.inventoryRuns(mine.scan.id)).map((r) => [r.result_id, r.status])).toEqual([
      [queued.id, 'queued'],
      [second.id, 'completed'],
      [mine.result.id, 'completed'],
    ]);
    await expect(assets.portsOf([listed.id], { state: 'open' })).resolves.toEqual([
      {
        host_id: listed.id,
        protocol: 'tcp',
        port: 22,
        state: 'open',
        service: 'ssh',
        product: null,
        version: null,
      },
    ]);
    expect((await assets.portsOf([listed.id], { protocol: 'tcp', port: 80 })).map((p) => p.state)).toEqual([
      'closed',
    ]);
    await expect(assets.ownedScan(mine.user.id, mine.scan.id)).resolves.toEqual({
      id: mine.scan.id,
      name: mine.scan.name,
      expectedPorts: null,
    });
    await expect(assets.ownedScan(theirs.user.id, mine.scan.id)).resolves.toBeUndefined();
  });
});
