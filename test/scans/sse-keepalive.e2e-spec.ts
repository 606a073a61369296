import { startGateway, TestGateway } from '../support/gateway';
import { readSse } from '../support/sse-client';

// A quiet per-scan SSE stream (a long batch prints nothing for minutes) gets a comment line so that proxies and
// clients do not cut it. SSE_KEEPALIVE_SECONDS shortens the 15 s period here.
describe('SSE keep-alive', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ env: { SSE_KEEPALIVE_SECONDS: '1' } });
  });
  afterAll(() => gateway.close());

  it('sends a comment on a quiet stream, and keeps sending them', async () => {
    // No worker: the scan stays queued and its stream stays quiet.
    const started = await gateway
      .api()
      .post('/api/scans/start')
      .send({ nmap_flags: ['-sT'], targets: ['127.0.0.1'] })
      .expect(200);
    const opened = Date.now();
    let comments = 0;
    const events = await readSse(
      `${gateway.url}/api/scans/${started.body.scan_id}/events`,
      gateway.admin.auth,
      (event) => event.comment !== undefined && ++comments === 2,
      10_000,
    );
    expect(events.filter((e) => e.comment !== undefined)).toEqual([
      { data: undefined, comment: 'keep-alive' },
      { data: undefined, comment: 'keep-alive' },
    ]);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(1_900);
  });
});
