import { TEST_DATABASES } from '../support/database';
import { startGateway, TestGateway } from '../support/gateway';
import { Listener, listenOn } from '../support/listeners';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

// GET /api/results/{id}/batches (DASHBOARD.md §5): a run's batches as rows and events told them, for a page that
// opens after the events were trimmed. Real gateway, worker and nmap against a listener on 127.0.182.0/29.
describe.each(TEST_DATABASES)('GET /api/results/{id}/batches of a finished run on %s', (database) => {
  let system: TestSystem;
  let listener: Listener;
  let resultId: number;

  beforeAll(async () => {
    system = await startSystem({ database, workers: 1 });
    listener = await listenOn('127.0.182.5');
    const started = await system.gateway
      .api()
      .post('/api/scans/start')
      .send({
        targets: ['127.0.182.0/29'],
        nmap_flags: ['-sT', '-Pn', '-n', '-p', String(listener.port)],
        chunk_size: 2,
      })
      .expect(200);
    const socket = await openScanSocket(system.gateway.url, started.body.scan_id, {
      headers: system.gateway.admin.auth,
    });
    const done = await socket.waitFor((m) => m.event === 'scan_complete');
    socket.close();
    resultId = done.result_id as number;
  });
  afterAll(async () => {
    await listener?.close();
    await system?.close();
  });

  it('lists every batch in order with its client, addresses, status and findings', async () => {
    const { body } = await system.gateway.api().get(`/api/results/${resultId}/batches`).expect(200);
    expect(body).toMatchObject({
      status: 'success',
      result_id: resultId,
      run_status: 'completed',
      total: 4,
      page: 1,
      has_next: false,
    });
    expect(body.batches.map((b: { batch_id: number }) => b.batch_id)).toEqual([1, 2, 3, 4]);
    expect(body.batches.map((b: { targets: string[] }) => b.targets)).toEqual([
      ['127.0.182.0', '127.0.182.1'],
      ['127.0.182.2', '127.0.182.3'],
      ['127.0.182.4', '127.0.182.5'],
      ['127.0.182.6', '127.0.182.7'],
    ]);
    for (const batch of body.batches) {
      expect(batch).toMatchObject({
        status: 'completed',
        client_id: 'local',
        client_kind: 'pool',
        worker_id: expect.stringContaining('w1'),
        attempts: 1,
        exit_code: 0,
        hosts_up: 2,
        started_at: expect.any(String),
        finished_at: expect.any(String),
      });
    }
    expect(body.batches.map((b: { open_ports: number }) => b.open_ports)).toEqual([0, 0, 1, 0]);
  });

  it('pages by batch number, and hides another user’s run', async () => {
    const api = system.gateway.api();
    const second = await api.get(`/api/results/${resultId}/batches?per_page=3&page=2`).expect(200);
    expect(second.body).toMatchObject({ total: 4, page: 2, per_page: 3, has_prev: true, has_next: false });
    expect(second.body.batches.map((b: { batch_id: number }) => b.batch_id)).toEqual([4]);
    const past = await api.get(`/api/results/${resultId}/batches?page=3&per_page=3`).expect(200);
    expect(past.body.batches).toEqual([]);
    const other = await system.gateway.newUser(`batch-peeker-${database}`);
    await system.gateway
      .api(other)
      .get(`/api/results/${resultId}/batches`)
      .expect(404, { error: 'Result not found' });
    await api.get('/api/results/0x1/batches').expect(400);
  });
});

describe('GET /api/results/{id}/batches of a run no worker took yet', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('shows the batches pending, with the client each is delegated to and what it will scan', async () => {
    const started = await gateway
      .api()
      .post('/api/scans/start')
      .send({ targets: ['127.0.182.16/30', '127.0.182.40'], chunk_size: 3 })
      .expect(200);
    const runs = await gateway.api().get(`/api/scans/${started.body.scan_id}/results`).expect(200);
    const resultId = runs.body.results[0].result_id;
    const { body } = await gateway.api().get(`/api/results/${resultId}/batches`).expect(200);
    expect(body).toMatchObject({ run_status: 'queued', total: 2 });
    expect(body.batches).toEqual([
      expect.objectContaining({
        batch_id: 1,
        status: 'pending',
        client_id: 'local',
        targets: ['127.0.182.16', '127.0.182.17', '127.0.182.18'],
        worker_id: null,
        attempts: 0,
        started_at: null,
      }),
      expect.objectContaining({
        batch_id: 2,
        status: 'pending',
        client_id: 'local',
        targets: ['127.0.182.19', '127.0.182.40'],
      }),
    ]);
  });
});
