// DNS rebinding: a page of another site whose name the attacker re-points at 127.0.0.1 talks to a loopback gateway
// as its own origin (Host and Origin are the attacker's name, so the same-origin check passes). Without a check of
// the Host header it could register an account (open by default on loopback), run scans of this machine and read
// the results. A loopback gateway answers only the names of this machine and PUBLIC_ORIGINS.
import request from 'supertest';
import WebSocket from 'ws';
import { startGateway, TestGateway } from '../support/gateway';

const STRONG = 'Rebind-Pass-123';
const REBOUND = 'rebind.attacker.test';

/** The status a WebSocket handshake to `url` with these headers gets: 101 when it opens. */
function handshakeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', reject);
  });
}

describe('the Host names a loopback gateway answers', () => {
  let gateway: TestGateway;
  let port: string;

  beforeAll(async () => {
    // As `npm start` runs it: HOST 127.0.0.1, registration open, no PUBLIC_ORIGINS.
    gateway = await startGateway();
    port = new URL(gateway.url).port;
  });
  afterAll(() => gateway.close());

  const register = (host: string, username: string) =>
    request(gateway.url)
      .post('/auth/register')
      .set('Host', host)
      .set('Origin', `http://${host}`)
      .send({ username, email: `${username}@example.test`, password: STRONG, confirm_password: STRONG });

  it('refuses a rebound name with 421 before anything is done: no account is created', async () => {
    const response = await register(`${REBOUND}:${port}`, 'mallory');
    expect(response.status).toBe(421);
    expect(response.body).toEqual({
      error: `Host "${REBOUND}:${port}" is not a name of this gateway; list its origin in PUBLIC_ORIGINS`,
    });
    expect(response.headers['set-cookie']).toBeUndefined();
    await request(gateway.url)
      .post('/auth/login')
      .send({ username: 'mallory', password: STRONG })
      .expect(401);
    await request(gateway.url).get('/api/health').set('Host', REBOUND).expect(421);
    await request(gateway.url).get('/dashboard').set('Host', REBOUND).set('Accept', 'text/html').expect(421);
  });

  it('refuses a WebSocket handshake for a rebound name', async () => {
    const url = `${gateway.url.replace(/^http/, 'ws')}/ws/scans/1`;
    expect(await handshakeStatus(url, { Host: `${REBOUND}:${port}`, ...gateway.admin.auth })).toBe(421);
  });

  it('answers the names of this machine', async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      `127.0.0.2:${port}`,
      `localhost:${port}`,
      'localhost',
      `[::1]:${port}`,
    ]) {
      await request(gateway.url).get('/api/health').set('Host', host).expect(200);
    }
    const ok = await register(`localhost:${port}`, 'carol');
    expect(ok.status).toBe(200);
  });
});

describe('a loopback gateway with PUBLIC_ORIGINS (behind a reverse proxy on this machine)', () => {
  it('answers the hosts of PUBLIC_ORIGINS and loopback names, and refuses others', async () => {
    const gateway = await startGateway({ env: { PUBLIC_ORIGINS: 'https://nso.example.test' } });
    try {
      await request(gateway.url).get('/api/health').set('Host', 'nso.example.test').expect(200);
      await request(gateway.url).get('/api/health').set('Host', 'NSO.example.test:443').expect(200);
      await request(gateway.url).get('/api/health').set('Host', 'localhost').expect(200);
      await request(gateway.url).get('/api/health').set('Host', REBOUND).expect(421);
    } finally {
      await gateway.close();
    }
  });
});

describe('a gateway listening beyond loopback', () => {
  it('answers any Host name, as a deployment behind its own DNS names must', async () => {
    const gateway = await startGateway({ env: { HOST: '0.0.0.0', REGISTRATION_OPEN: 'false' } });
    try {
      await request(gateway.url).get('/api/health').set('Host', 'nso.internal.test').expect(200);
    } finally {
      await gateway.close();
    }
  });
});
