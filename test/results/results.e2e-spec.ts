import { TEST_DATABASES } from '../support/database';
import { TestUser } from '../support/gateway';
import { Listener, listenOn } from '../support/listeners';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

// Run history over HTTP: real gateway, a real worker, real nmap against listeners on 127.0.30.0/29 only.
describe.each(TEST_DATABASES)('run history on %s', (database) => {
  let system: TestSystem;
  let listeners: Listener[];
  let other: TestUser;
  let scanIds: number[];
  let resultIds: number[];

  const ports = () => listeners.map((l) => l.port).join(',');
  const api = (user?: TestUser) => system.gateway.api(user);

  /** Starts a scan and waits for its scan_complete on the WebSocket. */
  const scanToCompletion = async (targets: string[]) => {
    const started = await api()
      .post('/api/scans/start')
      .send({ nmap_flags: ['-sT', '-Pn', '-n', '-p', ports()], targets, chunk_size: 4 })
      .expect(200);
    const socket = await openScanSocket(system.gateway.url, started.body.scan_id, {
      headers: system.gateway.admin.auth,
    });
    const done = await socket.waitFor((m) => m.event === 'scan_complete');
    socket.close();
    return { scanId: started.body.scan_id as number, resultId: done.result_id as number };
  };

  beforeAll(async () => {
    system = await startSystem({ database, workers: 1 });
    listeners = [await listenOn('127.0.30.2'), await listenOn('127.0.30.5')];
    other = await system.gateway.newUser('stranger');
    const first = await scanToCompletion(['127.0.30.0/29']);
    const second = await scanToCompletion(['127.0.30.2']);
    scanIds = [first.scanId, second.scanId];
    resultIds = [first.resultId, second.resultId];
  });
  afterAll(async () => {
    await Promise.all(listeners.map((l) => l.close()));
    await system.close();
  });

  it("lists a scan's runs, newest first, with paging fields", async () => {
    const { body } = await api().get(`/api/scans/${scanIds[0]}/results`).expect(200);
    expect(body).toMatchObject({
      status: 'success',
      scan_id: scanIds[0],
      total: 1,
      page: 1,
      per_page: 20,
      has_next: false,
      has_prev: false,
    });
    expect(body.results).toEqual([
      expect.objectContaining({
        result_id: resultIds[0],
        status: 'completed',
        targets: ['127.0.30.0/29'],
        targets_total: 8,
        batches_total: 2,
        batches_done: 2,
        hosts_up: 8,
        open_ports: 2,
      }),
    ]);
    expect(body.results[0].duration_seconds).toBeGreaterThanOrEqual(0);
  });

  it('shows a run with its hosts and ports, paginated and filtered by host and port state', async () => {
    const all = await api().get(`/api/results/${resultIds[0]}`).expect(200);
    expect(all.body.result).toMatchObject({
      result_id: resultIds[0],
      scan_id: scanIds[0],
      status: 'completed',
    });
    expect(all.body.hosts.total).toBe(8);
    // In target order, batch by batch, whichever batch was stored first.
    expect(all.body.hosts.items.map((h: { address: string }) => h.address)).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `127.0.30.${i}`),
    );
    expect(all.body.hosts.items.every((h: { ports: unknown[] }) => h.ports.length === 2)).toBe(true);

    const open = await api().get(`/api/results/${resultIds[0]}?port_state=open`).expect(200);
    expect(open.body.hosts.total).toBe(2);
    expect(open.body.hosts.items).toEqual(
      listeners.map((l) =>
        expect.objectContaining({
          address: l.host,
          state: 'up',
          ports: [expect.objectContaining({ protocol: 'tcp', port: l.port, state: 'open' })],
        }),
      ),
    );

    const page = await api().get(`/api/results/${resultIds[0]}?host_state=up&per_page=3&page=3`).expect(200);
    expect(page.body.hosts).toMatchObject({
      total: 8,
      page: 3,
      per_page: 3,
      has_next: false,
      has_prev: true,
    });
    expect(page.body.hosts.items.map((h: { address: string }) => h.address)).toEqual([
      '127.0.30.6',
      '127.0.30.7',
    ]);
    const down = await api().get(`/api/results/${resultIds[0]}?host_state=down`).expect(200);
    expect(down.body.hosts).toMatchObject({ total: 0, items: [] });
  });

  it('shows the history of one address across runs, with what was open', async () => {
    const listener = listeners[0];
    const { body } = await api().get(`/api/hosts/${listener.host}/history`).expect(200);
    expect(body).toMatchObject({ status: 'success', address: listener.host, total: 2 });
    expect(body.history.map((h: { result_id: number }) => h.result_id)).toEqual([resultIds[1], resultIds[0]]);
    expect(body.history[0]).toMatchObject({
      scan_id: scanIds[1],
      run_status: 'completed',
      state: 'up',
      open_ports: [expect.objectContaining({ protocol: 'tcp', port: listener.port, state: 'open' })],
    });
    const v6 = await api().get('/api/hosts/0:0:0:0:0:0:0:1/history').expect(200);
    expect(v6.body).toMatchObject({ address: '::1', total: 0, history: [] });
  });

  it("answers another user's runs with 404, and shows them no history", async () => {
    await api(other).get(`/api/scans/${scanIds[0]}/results`).expect(404, { error: 'Scan not found' });
    await api(other).get(`/api/results/${resultIds[0]}`).expect(404, { error: 'Result not found' });
    const history = await api(other).get(`/api/hosts/${listeners[0].host}/history`).expect(200);
    expect(history.body).toMatchObject({ total: 0, history: [] });
  });

  it.each([
    ['/api/results/0x1', 'result_id must be a positive integer'],
    ['/api/scans/abc/results', 'scan_id must be a positive integer'],
    ['/api/hosts/localhost/history', 'address must be an IPv4 or IPv6 address'],
    ['/api/hosts/127.1/history', 'address must be an IPv4 or IPv6 address'],
  ])('refuses %s with 400', async (path, error) => {
    const response = await api().get(path).expect(400);
    expect(response.body).toEqual({ error });
  });

  it.each([
    ['host_state=sideways', /host_state must be one of/],
    ['port_state=opened', /port_state must be one of/],
    ['per_page=0', /per_page must not be less than 1/],
    ['per_page=1.5', /per_page must be an integer/],
    ['page=0x2', /page must be an integer/],
    ['page=1&offset=0', /Give either page or offset/],
    ['colour=blue', /^Unknown query parameter: colour$/],
    ['page=9007199254740991', /^page must not be greater than 1000000$/],
    ['per_page=abc', /^per_page must be an integer number$/],
  ])('refuses the query %s with a 400 naming it', async (query, error) => {
    const response = await api().get(`/api/results/${resultIds[0]}?${query}`).expect(400);
    expect(response.body.error).toMatch(error);
  });

  it('says only what is wrong with a page beyond the maximum, and names an unknown query parameter as one', async () => {
    const page = await api().get(`/api/results/${resultIds[0]}?page=9007199254740991`).expect(400);
    expect(page.body).toEqual({
      error: 'page must not be greater than 1000000',
      details: ['page must not be greater than 1000000'],
    });
    const unknown = await api().get(`/api/results/${resultIds[0]}?foo=1`).expect(400);
    expect(unknown.body).toEqual({ error: 'Unknown query parameter: foo', unknown_fields: ['foo'] });
  });
});
