import request from 'supertest';
import { startGateway, TEST_ADMIN, TestGateway } from '../support/gateway';
import { openScanSocket } from '../support/ws-client';

// One "same origin" decision for the HTTP guard and the WebSocket handshake: the same answers on both
// transports, behind a trusted proxy (TRUST_PROXY) and without one.
describe.each([
  ['behind a trusted proxy (TRUST_PROXY=loopback)', { TRUST_PROXY: 'loopback' }, true],
  ['without a trusted proxy', {}, false],
  // The peer (127.0.0.1) is not the proxy named: its X-Forwarded-Proto is not to be believed on either transport.
  ['when TRUST_PROXY names another peer', { TRUST_PROXY: '127.0.0.2' }, false],
])('same-origin check %s', (_name, env: Record<string, string>, proxyTrusted) => {
  let gateway: TestGateway;
  let session: { Cookie: string };
  let scanId: number;
  let host: string;

  beforeAll(async () => {
    gateway = await startGateway({ env });
    host = new URL(gateway.url).host;
    const login = await request(gateway.url).post('/auth/login').send(TEST_ADMIN).expect(200);
    const cookie = (login.headers['set-cookie'] as unknown as string[]).find((c) =>
      c.startsWith('nso_session='),
    )!;
    session = { Cookie: cookie.split(';')[0] };
    // No worker: the scan stays queued, which is all a WebSocket handshake needs.
    const started = await gateway
      .api()
      .post('/api/scans/start')
      .send({ nmap_flags: ['-sT'], targets: ['127.0.0.1'] });
    scanId = started.body.scan_id;
  });
  afterAll(() => gateway.close());

  const post = (headers: Record<string, string>) =>
    request(gateway.url)
      .post('/api/projects')
      .set(session)
      .set(headers)
      .send({ name: `p-${Math.random()}` });
  const handshake = async (headers: Record<string, string>) => {
    const socket = await openScanSocket(gateway.url, scanId, { headers: { ...session, ...headers } });
    const first = await Promise.race([
      socket.waitFor((m) => m.event === 'connected', 5_000).then(() => 'connected'),
      socket.closed.then((c) => c.code),
    ]);
    socket.close();
    return first;
  };

  it("accepts a page on the gateway's plain origin on both transports", async () => {
    const headers = { Origin: `http://${host}` };
    expect((await post(headers)).status).toBe(200);
    expect(await handshake(headers)).toBe('connected');
  });

  it('reads https from X-Forwarded-Proto only from a trusted proxy, on both transports alike', async () => {
    const headers = { Origin: `https://${host}`, 'X-Forwarded-Proto': 'https' };
    expect((await post(headers)).status).toBe(proxyTrusted ? 200 : 403);
    expect(await handshake(headers)).toBe(proxyTrusted ? 'connected' : 4403);
  });

  it('refuses the plain origin once a trusted proxy says the request came over https', async () => {
    const headers = { Origin: `http://${host}`, 'X-Forwarded-Proto': 'https' };
    expect((await post(headers)).status).toBe(proxyTrusted ? 403 : 200);
    expect(await handshake(headers)).toBe(proxyTrusted ? 4403 : 'connected');
  });

  it('refuses another site on both transports', async () => {
    const headers = { Origin: 'https://attacker.example', 'X-Forwarded-Proto': 'https' };
    expect((await post(headers)).status).toBe(403);
    expect(await handshake(headers)).toBe(4403);
  });
});
