import { createTestDatabase, TEST_DATABASES, type TestDatabase } from '../../../test/support/database';
import { markBatchFailed, startBatch } from './batch-lifecycle';
import { BatchResultStore, type BatchResultInput, type HostResultInput } from './batch-result.store';
import { Batch, Host, Port, ScanResult } from './entities';
import { createRun } from './testing/factories';

const dnsServer: HostResultInput = {
  address: '127.0.0.1',
  addressType: 'ipv4',
  hostnames: [{ name: 'localhost', type: 'PTR' }],
  state: 'up',
  reason: 'localhost-response',
  ports: [
    {
      protocol: 'tcp',
      port: 53,
      state: 'open',
      reason: 'syn-ack',
      service: {
        name: 'domain',
        product: 'dnsmasq',
        version: '2.90',
        cpe: ['cpe:/a:thekelleys:dnsmasq:2.90'],
      },
    },
    { protocol: 'udp', port: 53, state: 'open', service: { name: 'domain' } },
    { protocol: 'tcp', port: 80, state: 'closed', reason: 'reset' },
  ],
};
const silentHost: HostResultInput = {
  address: '127.0.0.2',
  addressType: 'ipv4',
  hostnames: [],
  state: 'down',
  reason: 'no-response',
  ports: [],
};

function resultFor(batchId: number, hosts: HostResultInput[], workerId = 'worker-a'): BatchResultInput {
  return { batchId, workerId, exitCode: 0, stderr: null, finishedAt: new Date(), hosts };
}

describe.each(TEST_DATABASES)('BatchResultStore on %s', (kind) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });

  afterAll(async () => {
    await db?.cleanup();
  });

  const store = () => new BatchResultStore(db.orm.em);
  const start = (batch: Batch, workerId: string) =>
    startBatch(db.orm.em.fork(), {
      resultId: batch.result.id,
      seq: batch.seq,
      targets: batch.targets,
      workerId,
    });
  const rowsOf = async (resultId: number) => {
    const em = db.orm.em.fork();
    return {
      hosts: await em.count(Host, { result: resultId }),
      ports: await em.count(Port, { host: { result: resultId } }),
    };
  };

  it('stores a batch once: hosts, ports keyed by protocol, batch status and run counters', async () => {
    const { result, batches } = await createRun(db.orm.em.fork(), { batches: 2 });
    const batchId = batches[0].id;
    await expect(start(batches[0], 'worker-a')).resolves.toEqual({ runnable: true, batchId });

    const first = await store().storeBatchResult(resultFor(batchId, [dnsServer, silentHost]));
    expect(first).toEqual({ stored: true, hostsUp: 1, openPorts: 2, resultId: result.id });

    const again = await store().storeBatchResult(resultFor(batchId, [dnsServer, silentHost], 'worker-b'));
    expect(again).toEqual({ stored: false, hostsUp: 1, openPorts: 2, resultId: result.id });

    expect(await rowsOf(result.id)).toEqual({ hosts: 2, ports: 3 });
    const em = db.orm.em.fork();
    const ports = await em.find(
      Port,
      { host: { address: '127.0.0.1', result: result.id } },
      { orderBy: { id: 'asc' } },
    );
    expect(ports.map((p) => `${p.protocol}/${p.port}:${p.state}`)).toEqual([
      'tcp/53:open',
      'udp/53:open',
      'tcp/80:closed',
    ]);
    expect(ports[0]).toMatchObject({
      serviceName: 'domain',
      product: 'dnsmasq',
      version: '2.90',
      extrainfo: null,
      reason: 'syn-ack',
      cpe: ['cpe:/a:thekelleys:dnsmasq:2.90'],
    });
    const host = await em.findOneOrFail(
      Host,
      { result: result.id, address: '127.0.0.1' },
      { populate: ['ports'] },
    );
    expect(host).toMatchObject({
      hostnames: [{ name: 'localhost', type: 'PTR' }],
      state: 'up',
      mac: null,
      os: null,
    });
    expect(host.ports).toHaveLength(3);

    const batch = await em.findOneOrFail(Batch, batchId);
    expect(batch).toMatchObject({
      status: 'completed',
      workerId: 'worker-a',
      exitCode: 0,
      hostsUp: 1,
      openPorts: 2,
      attempts: 1,
    });
    const run = await em.findOneOrFail(ScanResult, result.id);
    expect(run).toMatchObject({
      status: 'running',
      batchesDone: 1,
      batchesFailed: 0,
      hostsUp: 1,
      openPorts: 2,
    });
    expect(run.startedAt).toBeInstanceOf(Date);

    await expect(start(batches[0], 'worker-c')).resolves.toEqual({
      runnable: false,
      batchId,
      status: 'completed',
      hostsUp: 1,
      openPorts: 2,
    });
  });

  it('stores a batch once when two workers finish it at the same moment', async () => {
    const { result, batches } = await createRun(db.orm.em.fork());
    const outcomes = await Promise.all(
      ['worker-a', 'worker-b', 'worker-c'].map((worker) =>
        store().storeBatchResult(resultFor(batches[0].id, [dnsServer, silentHost], worker)),
      ),
    );
    expect(outcomes.filter((o) => o.stored)).toHaveLength(1);
    expect(await rowsOf(result.id)).toEqual({ hosts: 2, ports: 3 });
    expect(await db.orm.em.fork().findOneOrFail(ScanResult, result.id)).toMatchObject({
      batchesDone: 1,
      openPorts: 2,
    });
  });

  it('counts a failed attempt, and takes it back when a retry completes the batch', async () => {
    const { result, batches } = await createRun(db.orm.em.fork());
    const batchId = batches[0].id;
    const em = () => db.orm.em.fork();
    await start(batches[0], 'worker-a');
    await expect(markBatchFailed(em(), batchId, { exitCode: 1, stderr: 'boom' })).resolves.toBe(true);
    await expect(markBatchFailed(em(), batchId, { exitCode: 1, stderr: 'boom' })).resolves.toBe(false);
    expect(await em().findOneOrFail(ScanResult, result.id)).toMatchObject({ batchesFailed: 1 });
    expect(await em().findOneOrFail(Batch, batchId)).toMatchObject({
      status: 'failed',
      exitCode: 1,
      stderr: 'boom',
    });

    await expect(start(batches[0], 'worker-b')).resolves.toEqual({ runnable: true, batchId });
    expect(await em().findOneOrFail(ScanResult, result.id)).toMatchObject({ batchesFailed: 0 });
    await store().storeBatchResult(resultFor(batchId, [silentHost], 'worker-b'));
    expect(await em().findOneOrFail(Batch, batchId)).toMatchObject({
      status: 'completed',
      attempts: 2,
      stderr: null,
    });
    expect(await em().findOneOrFail(ScanResult, result.id)).toMatchObject({
      batchesDone: 1,
      batchesFailed: 0,
    });
  });

  it('creates the row of a batch on its first start, and a restart counts another attempt', async () => {
    const { result } = await createRun(db.orm.em.fork(), { batches: 0 });
    const input = { resultId: result.id, seq: 1, targets: ['127.0.0.1', '127.0.0.2'], workerId: 'worker-a' };
    const first = await startBatch(db.orm.em.fork(), input);
    expect(first).toEqual({ runnable: true, batchId: expect.any(Number) });
    const again = await startBatch(db.orm.em.fork(), { ...input, workerId: 'worker-b' });
    expect(again).toEqual(first);

    const em = db.orm.em.fork();
    const batch = await em.findOneOrFail(Batch, { result: result.id, seq: 1 });
    expect(batch).toMatchObject({
      status: 'running',
      attempts: 2,
      workerId: 'worker-b',
      targets: ['127.0.0.1', '127.0.0.2'],
    });
    expect(batch.startedAt).toBeInstanceOf(Date);
    expect(await em.findOneOrFail(ScanResult, result.id)).toMatchObject({ status: 'running' });
  });

  it('does not start a stopped batch, and refuses a batch of an unknown run', async () => {
    const { result, batches } = await createRun(db.orm.em.fork());
    await db.orm.em.fork().nativeUpdate(Batch, { id: batches[0].id }, { status: 'stopped' });
    await expect(start(batches[0], 'worker-a')).resolves.toMatchObject({
      runnable: false,
      status: 'stopped',
    });
    expect(await db.orm.em.fork().findOneOrFail(ScanResult, result.id)).toMatchObject({ status: 'queued' });
    // Matched on the message: better-sqlite3's native part keeps the error class of the first test file that
    // loaded it in this jest worker, so its errors are not `instanceof Error` in later files.
    const unknownRun = await startBatch(db.orm.em.fork(), {
      resultId: 987654321,
      seq: 1,
      targets: [],
      workerId: 'worker-a',
    }).then(
      () => 'started',
      (error: { message?: string }) => String(error?.message),
    );
    expect(unknownRun).toMatch(/foreign key/i);
    await expect(markBatchFailed(db.orm.em.fork(), 987654321, { exitCode: 1, stderr: null })).resolves.toBe(
      false,
    );
  });

  it('keeps one host per address in a run when two batches report it, with the ports of both', async () => {
    const { result, batches } = await createRun(db.orm.em.fork(), { batches: 2 });
    const first = await store().storeBatchResult(
      resultFor(batches[0].id, [{ ...dnsServer, ports: [dnsServer.ports[0]] }]),
    );
    const second = await store().storeBatchResult(
      resultFor(batches[1].id, [{ ...dnsServer, ports: dnsServer.ports }]),
    );
    expect(await rowsOf(result.id)).toEqual({ hosts: 1, ports: 3 });
    // Issue 8, B.7: each batch counts what it stored, so the counters add up to the rows (1 host up, 2 open).
    expect([first, second].map((o) => [o.hostsUp, o.openPorts])).toEqual([
      [1, 1],
      [0, 1],
    ]);
    const em = db.orm.em.fork();
    const rows = await em.find(Batch, { id: { $in: batches.map((b) => b.id) } }, { orderBy: { seq: 'asc' } });
    expect(rows.map((b) => [b.hostsUp, b.openPorts])).toEqual([
      [1, 1],
      [0, 1],
    ]);
    expect(await em.findOneOrFail(ScanResult, result.id)).toMatchObject({ hostsUp: 1, openPorts: 2 });
  });

  it('refuses a batch that does not exist', async () => {
    await expect(store().storeBatchResult(resultFor(987654321, [dnsServer]))).rejects.toThrow(
      /does not exist/,
    );
  });

  it('stores a 4096-host batch (the largest chunk) with every port, across several inserts', async () => {
    const { result, batches } = await createRun(db.orm.em.fork(), { targetsPerBatch: 4096 });
    const hosts: HostResultInput[] = Array.from({ length: 4096 }, (_, i) => ({
      address: `10.${i >> 8}.${i & 255}.1`,
      addressType: 'ipv4',
      hostnames: [{ name: `h${i}.example`, type: 'PTR' }],
      state: 'up',
      ports: [22, 80, 443, 8080, 53].map((port) => ({
        protocol: port === 53 ? 'udp' : 'tcp',
        port,
        state: port === 8080 ? 'filtered' : 'open',
        service: { name: 'svc', product: 'product', version: '1.0' },
      })),
    }));
    const outcome = await store().storeBatchResult(resultFor(batches[0].id, hosts));
    expect(outcome).toMatchObject({ stored: true, hostsUp: 4096, openPorts: 4096 * 4 });
    expect(await rowsOf(result.id)).toEqual({ hosts: 4096, ports: 4096 * 5 });
  }, 30_000);
});
