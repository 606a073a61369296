import { TEST_DATABASES } from '../support/database';
import { startGateway, TestGateway } from '../support/gateway';
import { keepPoolOnline } from '../support/pools';

// POST /api/scans/start/preview (DASHBOARD.md §5): a dry run of a start. Two worker pools as scanner clients
// (`local` over 127.0.0.0/17, `site-b` over 127.0.183.128/25), no worker: nothing is scanned, and a preview
// stores nothing.
describe.each(TEST_DATABASES)('POST /api/scans/start/preview on %s', (database) => {
  let gateway: TestGateway;
  let siteB: { stop(): void };

  const preview = (body: Record<string, unknown>) =>
    gateway.api().post('/api/scans/start/preview').send(body);
  const scanCount = async () => (await gateway.api().get('/api/scans').expect(200)).body.total as number;

  beforeAll(async () => {
    gateway = await startGateway({ database, env: { WORKER_SCAN_RANGE: '127.0.0.0/17' } });
    siteB = await keepPoolOnline(gateway.app, 'site-b', ['127.0.183.128/25']);
  });
  afterAll(async () => {
    siteB?.stop();
    await gateway?.close();
  });

  it('counts addresses and batches, splits them by client, and stores nothing', async () => {
    const body = {
      targets: ['127.0.183.130', '127.0.183.131', 'localhost', '127.0.100.0/29'],
      nmap_flags: ['-sT', '-p', '22,80'],
      chunk_size: 4,
    };
    const before = await scanCount();
    const { body: plan } = await preview(body).expect(200);
    expect(plan).toEqual({
      status: 'success',
      dry_run: true,
      would_start: true,
      refusal: null,
      // As the policy normalises them, which is what nmap would get.
      nmap_flags: ['-sT', '-p22,80'],
      resolved_names: { localhost: ['127.0.0.1'] },
      addresses: 11,
      targets_total: 11,
      batches_total: 4,
      chunk_size: 4,
      concurrency: 6,
      delegation: [
        {
          clients: ['local'],
          agents: [],
          target_ranges: ['127.0.0.1', '127.0.100.0/29'],
          targets: 9,
          batches: 3,
          chunk_size: 4,
        },
        {
          clients: ['site-b'],
          agents: [],
          target_ranges: ['127.0.183.130/31'],
          targets: 2,
          batches: 1,
          chunk_size: 4,
        },
      ],
      clients_triggered: ['local', 'site-b'],
      unassigned_targets: [],
      out_of_scope: [],
    });
    expect(await scanCount()).toBe(before);

    // The start it previews cuts the same run.
    const started = await gateway.api().post('/api/scans/start').send(body).expect(200);
    const runs = await gateway.api().get(`/api/scans/${started.body.scan_id}/results`).expect(200);
    expect(runs.body.results[0]).toMatchObject({ targets_total: 11, batches_total: 4 });
    await gateway.api().post(`/api/scans/${started.body.scan_id}/stop`).expect(200);
  });

  it('lists addresses no client covers; the start would go on without them', async () => {
    const { body } = await preview({ targets: ['127.0.183.5', '127.0.183.200'] }).expect(200);
    expect(body).toMatchObject({
      would_start: true,
      refusal: null,
      addresses: 2,
      targets_total: 1,
      batches_total: 1,
      clients_triggered: ['site-b'],
      unassigned_targets: ['127.0.183.5'],
    });
  });

  it('says a start would be refused (409) when no client covers any target', async () => {
    const before = await scanCount();
    const { body } = await preview({ targets: ['127.0.183.0/30'] }).expect(200);
    expect(body).toMatchObject({
      would_start: false,
      refusal: {
        status: 409,
        error: 'No approved, online scanner client covers the targets: 127.0.183.0/30',
        unassigned_targets: ['127.0.183.0/30'],
      },
      addresses: 4,
      targets_total: 0,
      batches_total: 0,
      delegation: [],
      clients_triggered: [],
    });
    // The start answers as the preview said.
    const start = await gateway
      .api()
      .post('/api/scans/start')
      .send({ targets: ['127.0.183.0/30'] })
      .expect(409);
    expect(start.body.unassigned_targets).toEqual(['127.0.183.0/30']);
    expect(await scanCount()).toBe(before);
  });

  it('lists targets outside the scan scope with the 400 a start would answer, and plans the rest', async () => {
    const targets = ['192.0.2.10', '127.0.183.130', '10.0.0.0/30'];
    const { body } = await preview({ targets }).expect(200);
    expect(body).toMatchObject({
      would_start: false,
      refusal: {
        status: 400,
        error: 'targets outside the scan scope: 192.0.2.10, 10.0.0.0/30',
        out_of_scope: ['192.0.2.10', '10.0.0.0/30'],
      },
      out_of_scope: ['192.0.2.10', '10.0.0.0/30'],
      addresses: 1,
      targets_total: 1,
      clients_triggered: ['site-b'],
    });
    const start = await gateway.api().post('/api/scans/start').send({ targets }).expect(400);
    expect(start.body.out_of_scope).toEqual(body.out_of_scope);
  });

  it('answers a refused option, an invalid target or an unknown project as the start does', async () => {
    const option = await preview({ targets: ['127.0.0.1'], nmap_flags: ['-oX', 'x.xml'] }).expect(400);
    expect(option.body.option).toBe('-oX');
    const target = await preview({ targets: ['-iL'] }).expect(400);
    expect(target.body.error).toMatch(/target/i);
    await preview({ targets: ['127.0.0.1'], project_id: 999999 }).expect(404);
    await preview({ targets: [] }).expect(400);
  });
});
