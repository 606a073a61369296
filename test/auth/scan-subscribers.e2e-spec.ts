// A scan's live streams (WebSocket /ws/scans/:id and SSE /api/scans/:id/events) end with the credential they were
// opened with: a revoked token or a logged-out session must not keep receiving the scan's runs, as /api/stream
// does not (docs/authentication.md).
import request from 'supertest';
import { startGateway, TEST_ADMIN, TestGateway } from '../support/gateway';
import { openSse } from '../support/sse-stream';
import { openScanSocket } from '../support/ws-client';

/** Resolves with `promise`, or rejects when it does not settle within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('scan event streams end with their credential', () => {
  let gateway: TestGateway;
  let scanId: number;

  beforeAll(async () => {
    // SSE_KEEPALIVE_SECONDS 1: a credential gone without a message (an expired session) is noticed within 1 s.
    gateway = await startGateway({ env: { SSE_KEEPALIVE_SECONDS: '1' } });
    const started = await gateway
      .api()
      .post('/api/scans/start')
      .send({ nmap_flags: ['-sT'], targets: ['127.0.0.1'] })
      .expect(200);
    scanId = started.body.scan_id;
  });
  afterAll(() => gateway.close());

  const newToken = async () => {
    const created = await gateway.api().post('/api/tokens').send({ name: 'stream' }).expect(201);
    return { id: created.body.id as number, auth: { Authorization: `Bearer ${created.body.token}` } };
  };
  const login = async () => {
    const response = await request(gateway.url).post('/auth/login').send(TEST_ADMIN).expect(200);
    const cookie = (response.headers['set-cookie'] as unknown as string[])
      .find((c) => c.startsWith('nso_session='))!
      .split(';')[0];
    return { Cookie: cookie };
  };

  it('closes a WebSocket opened with a token when the token is revoked (4401)', async () => {
    const token = await newToken();
    const socket = await openScanSocket(gateway.url, scanId, { headers: token.auth });
    await socket.waitFor((m) => m.event === 'connected', 5_000);
    await gateway.api().delete(`/api/tokens/${token.id}`).expect(200);
    expect(await within(socket.closed, 5_000, 'the close')).toEqual({
      code: 4401,
      reason: 'Authentication required',
    });
  });

  it('closes a WebSocket opened with a session when the session logs out (4401)', async () => {
    const session = await login();
    const socket = await openScanSocket(gateway.url, scanId, { headers: session });
    await socket.waitFor((m) => m.event === 'connected', 5_000);
    await request(gateway.url).post('/auth/logout').set(session).expect(200);
    expect(await within(socket.closed, 5_000, 'the close')).toEqual({
      code: 4401,
      reason: 'Authentication required',
    });
  });

  it('ends the SSE mirror opened with a token when the token is revoked', async () => {
    const token = await newToken();
    const stream = await openSse(`${gateway.url}/api/scans/${scanId}/events`, token.auth);
    expect(stream.status).toBe(200);
    await gateway.api().delete(`/api/tokens/${token.id}`).expect(200);
    await within(stream.ended, 5_000, 'the end of the stream');
  });

  it('ends the SSE mirror opened with a session when the session logs out', async () => {
    const session = await login();
    const stream = await openSse(`${gateway.url}/api/scans/${scanId}/events`, session);
    expect(stream.status).toBe(200);
    await request(gateway.url).post('/auth/logout').set(session).expect(200);
    await within(stream.ended, 5_000, 'the end of the stream');
  });
});
