import { createTestDatabase, TEST_DATABASES, type TestDatabase } from '../../../test/support/database';
import { BatchRepository, type BatchResultInput, type HostResultInput } from './batch.repository';
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

describe.each(TEST_DATABASES)('BatchRepository on %s', (kind) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });

  afterAll(async () => {
    await db?.cleanup();
  });

  const store = () => new BatchRepository(db.orm.em);
  const start = (batch: Batch, workerId: string) =>
    store().start({
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

    const first = await store().storeResult(resultFor(batchId, [dnsServer, silentHost]));
    expect(first).toEqual({ stored: true, hostsUp: 1, openPorts: 2, resultId: result.id });

    const again = await store().storeResult(resultFor(batchId, [dnsServer, silentHost], 'worker-b'));
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
        store().storeResult(resultFor(batches[0].id, [dnsServer, silentHost], worker)),
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
    await expect(store().fail(batchId, { exitCode: 1, stderr: 'boom' })).resolves.toBe(true);
    await expect(store().fail(batchId, { exitCode: 1, stderr: 'boom' })).resolves.toBe(false);
    expect(await em().findOneOrFail(ScanResult, result.id)).toMatchObject({ batchesFailed: 1 });
    expect(await em().findOneOrFail(Batch, batchId)).toMatchObject({
      status: 'failed',
      exitCode: 1,
      stderr: 'boom',
    });

    await expect(start(batches[0], 'worker-b')).resolves.toEqual({ runnable: true, batchId });
    expect(await em().findOneOrFail(ScanResult, result.id)).toMatchObject({ batchesFailed: 0 });
    await store().storeResult(resultFor(batchId, [silentHost], 'worker-b'));
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
    const first = await store().start(input);
    expect(first).toEqual({ runnable: true, batchId: expect.any(Number) });
    const again = await store().start({ ...input, workerId: 'worker-b' });
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
    const unknownRun = await store()
      .start({
        resultId: 987654321,
        seq: 1,
        targets: [],
        workerId: 'worker-a',
      })
      .then(
        () => 'started',
        (error: { message?: string }) => String(error?.message),
      );
    expect(unknownRun).toMatch(/foreign key/i);
    await expect(store().fail(987654321, { exitCode: 1, stderr: null })).resolves.toBe(false);
  });

  it('does not store the result of a batch the run’s stop ended first; lists those stored before it', async () => {
    // nmap may finish between the stop marking the run's batches stopped and the worker hearing of it: the
    // stopped run counts and announces nothing more (no batch_complete), so its rows and counters take nothing.
    const { result, batches } = await createRun(db.orm.em.fork(), { batches: 2 });
    const [before, after] = [batches[0].id, batches[1].id];
    await start(batches[0], 'worker-a');
    await start(batches[1], 'worker-a');
    await store().storeResult(resultFor(before, [dnsServer]));
    await store().stopAllOfRun(result.id);

    const late = await store().storeResult(resultFor(after, [{ ...dnsServer, address: '127.0.0.3' }]));
    expect(late).toEqual({ stored: false, hostsUp: 0, openPorts: 0, resultId: result.id });
    expect(await rowsOf(result.id)).toEqual({ hosts: 1, ports: 3 });
    const em = db.orm.em.fork();
    expect(await em.findOneOrFail(Batch, after)).toMatchObject({ status: 'stopped', hostsUp: 0 });
    expect(await em.findOneOrFail(ScanResult, result.id)).toMatchObject({
      batchesDone: 1,
      hostsUp: 1,
      openPorts: 2,
    });
    // What the stop announces of the batches in flight (RunService.stop): the one stored before it.
    await expect(store().completedAmong(result.id, [1, 2])).resolves.toEqual([
      { seq: 1, hostsUp: 1, openPorts: 2 },
    ]);
    await expect(store().completedAmong(result.id, [])).resolves.toEqual([]);
  });

  it('keeps one host per address in a run when two batches report it, with the ports of both', async () => {
    const { result, batches } = await createRun(db.orm.em.fork(), { batches: 2 });
    const first = await store().storeResult(
      resultFor(batches[0].id, [{ ...dnsServer, ports: [dnsServer.ports[0]] }]),
    );
    const second = await store().storeResult(
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

  it('stores every value as given: quotes, backslashes and non-ASCII text, JSON columns, the time, a repeated address', async () => {
    const { result, batches } = await createRun(db.orm.em.fork(), { batches: 1 });
    const finishedAt = new Date('2026-12-07T03:20:00.123Z');
    const odd: HostResultInput = {
      address: '127.0.0.9',
      addressType: 'ipv4',
      hostnames: [{ name: 'hôte-"9"\\x', type: 'user' }],
      state: 'up',
      reason: 'syn-ack',
      mac: '02:00:00:00:00:09',
      os: [{ name: 'Linux 5.x — "test"', accuracy: 97 }],
      extraPorts: [
        { state: 'filtered', count: 990 },
        { state: 'closed', count: 7 },
      ],
      ports: [
        {
          protocol: 'tcp',
          port: 22,
          state: 'open',
          service: {
            name: 'ssh',
            product: 'Open"SSH\\',
            version: '9.2p1',
            extrainfo: 'ünïcode ✓',
            cpe: ['cpe:/a:x:y'],
          },
        },
      ],
    };
    // nmap lists the address twice: one host, the ports of both entries, the first entry's fields.
    const again: HostResultInput = {
      ...odd,
      state: 'down',
      ports: [{ protocol: 'udp', port: 53, state: 'closed' }],
    };
    const outcome = await store().storeResult({ ...resultFor(batches[0].id, [odd, again]), finishedAt });
    expect(outcome).toEqual({ stored: true, hostsUp: 1, openPorts: 1, resultId: result.id });
    const em = db.orm.em.fork();
    const host = await em.findOneOrFail(Host, { result: result.id }, { populate: ['ports'] });
    expect(host).toMatchObject({
      address: '127.0.0.9',
      addressType: 'ipv4',
      hostnames: odd.hostnames,
      state: 'up',
      reason: 'syn-ack',
      mac: '02:00:00:00:00:09',
      os: odd.os,
      unlistedStates: 'closed,filtered',
    });
    expect(host.createdAt.toISOString()).toBe(finishedAt.toISOString());
    const ports = [...host.ports].sort((a, b) => a.port - b.port);
    expect(ports.map((p) => `${p.protocol}/${p.port}:${p.state}`)).toEqual(['tcp/22:open', 'udp/53:closed']);
    expect(ports[0]).toMatchObject({
      serviceName: 'ssh',
      product: 'Open"SSH\\',
      version: '9.2p1',
      extrainfo: 'ünïcode ✓',
      cpe: ['cpe:/a:x:y'],
    });
    expect(ports[1]).toMatchObject({ reason: null, serviceName: null, product: null, cpe: null });
  });

  it('refuses a batch that does not exist', async () => {
    await expect(store().storeResult(resultFor(987654321, [dnsServer]))).rejects.toThrow(/does not exist/);
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
    const outcome = await store().storeResult(resultFor(batches[0].id, hosts));
    expect(outcome).toMatchObject({ stored: true, hostsUp: 4096, openPorts: 4096 * 4 });
    expect(await rowsOf(result.id)).toEqual({ hosts: 4096, ports: 4096 * 5 });
  }, 30_000);
});
