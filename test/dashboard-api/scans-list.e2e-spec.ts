import { TEST_DATABASES } from '../support/database';
import { startGateway, TestGateway, TestUser } from '../support/gateway';
import { nmapXml } from '../support/nmap-xml';

// GET /api/scans for the dashboard (DASHBOARD.md §5): each scan's latest run, and the project_id and status
// (latest run's state) filters. The gateway alone: runs stay queued (no worker takes them), are stopped, or are
// imported nmap XML (completed), so every state exists without scanning anything.
describe.each(TEST_DATABASES)('GET /api/scans latest_run and filters on %s', (database) => {
  let gateway: TestGateway;
  let other: TestUser;
  const ids: Record<'idle' | 'queued' | 'imported' | 'stopped', number> = {
    idle: 0,
    queued: 0,
    imported: 0,
    stopped: 0,
  };
  let labId: number;
  let importedResultId: number;
  let queuedResultId: number;

  const api = (user?: TestUser) => gateway.api(user);
  const definition = (name: string, extra: Record<string, unknown> = {}) =>
    api()
      .post('/api/scans')
      .send({ name, target: '127.0.181.1-4', ports: '22', ...extra })
      .expect(201)
      .then((r) => r.body.scan.id as number);
  const listed = async (query: string) => {
    const { body } = await api().get(`/api/scans${query}`).expect(200);
    return body.scans.map((s: { id: number }) => s.id) as number[];
  };

  beforeAll(async () => {
    gateway = await startGateway({ database });
    other = await gateway.newUser('other-owner');
    labId = (await api().post('/api/projects').send({ name: 'Lab' }).expect(200)).body.id;
    ids.idle = await definition('never ran', { project_id: labId });

    ids.imported = await definition('imported', { project_id: labId });
    // Its first run is stopped, its latest imported (completed): the filters read the latest run only.
    await api().get(`/api/scans/${ids.imported}/execute`).expect(200);
    await api().post(`/api/scans/${ids.imported}/stop`).expect(200);
    const xml = nmapXml('nmap -sT -p 22 127.0.181.1', [
      { address: '127.0.181.1', state: 'up', ports: [{ protocol: 'tcp', port: 22, state: 'open' }] },
    ]);
    const imported = await api()
      .post(`/api/scans/${ids.imported}/results/import`)
      .set('Content-Type', 'application/xml')
      .send(xml)
      .expect(201);
    importedResultId = imported.body.result_id;

    const stopped = await api()
      .post('/api/scans/start')
      .send({ targets: ['127.0.181.9'] })
      .expect(200);
    ids.stopped = stopped.body.scan_id;
    await api().post(`/api/scans/${ids.stopped}/stop`).expect(200);

    const queued = await api()
      .post('/api/scans/start')
      .send({ targets: ['127.0.181.16/29'], chunk_size: 4 })
      .expect(200);
    ids.queued = queued.body.scan_id;
    queuedResultId = (await api().get(`/api/scans/${ids.queued}/results`).expect(200)).body.results[0]
      .result_id;

    // Another user's running scan is never listed.
    await api(other)
      .post('/api/scans/start')
      .send({ targets: ['127.0.181.30'] })
      .expect(200);
  });
  afterAll(() => gateway.close());

  it('gives every scan its latest run: id, status and progress, or null before the first run', async () => {
    const { body } = await api().get('/api/scans').expect(200);
    const byId = new Map(body.scans.map((s: { id: number }) => [s.id, s]));
    expect(body.total).toBe(4);
    expect(byId.get(ids.idle)).toMatchObject({ latest_run: null, result_count: 0 });
    expect(byId.get(ids.queued)).toMatchObject({
      latest_run: {
        result_id: queuedResultId,
        status: 'queued',
        progress: { percent: 0, batches_done: 0, batches_failed: 0, batches_total: 2 },
        started_at: null,
        finished_at: null,
      },
    });
    expect(byId.get(ids.imported)).toMatchObject({
      result_count: 2,
      latest_run: {
        result_id: importedResultId,
        status: 'completed',
        progress: { percent: 100 },
        finished_at: expect.any(String),
      },
    });
    expect(byId.get(ids.stopped)).toMatchObject({ latest_run: { status: 'stopped' } });
  });

  it.each([
    ['running', 'queued'],
    ['completed', 'imported'],
    ['stopped', 'stopped'],
    ['idle', 'idle'],
  ] as const)('filters by the latest run: status=%s', async (status, which) => {
    const { body } = await api().get(`/api/scans?status=${status}`).expect(200);
    expect(body.scans.map((s: { id: number }) => s.id)).toEqual([ids[which]]);
    expect(body.total).toBe(1);
  });

  it('lists nothing failed, and filters by project, also with the other filters', async () => {
    expect(await listed('?status=failed')).toEqual([]);
    expect(await listed(`?project_id=${labId}`)).toEqual([ids.imported, ids.idle]);
    expect(await listed(`?project_id=${labId}&status=completed`)).toEqual([ids.imported]);
    expect(await listed(`?project_id=${labId}&status=running`)).toEqual([]);
    expect(await listed(`?project_id=${labId}&is_active=true&per_page=1`)).toEqual([ids.imported]);
    // Another user's project holds none of your scans.
    const theirs = (await api(other).post('/api/projects').send({ name: 'Theirs' }).expect(200)).body.id;
    expect(await listed(`?project_id=${theirs}`)).toEqual([]);
  });

  it('refuses malformed filters with a 400 naming them', async () => {
    const status = await api().get('/api/scans?status=busy').expect(400);
    expect(status.body.error).toBe('status must be one of: running, completed, stopped, failed, idle');
    const project = await api().get('/api/scans?project_id=abc').expect(400);
    expect(project.body.error).toMatch(/project_id/);
  });
});
