import { MikroORM } from '@mikro-orm/core';
import { User } from '@nso/persistence/testing';
import request from 'supertest';
import { startGateway, TEST_ADMIN, TestGateway, TestUser } from '../support/gateway';
import { readSse } from '../support/sse-client';
import { openScanSocket } from '../support/ws-client';

const STRONG = 'Secure-Pass-123';
const cookieOf = (response: request.Response): string => {
  const header = response.headers['set-cookie'] as unknown as string[];
  return header.find((c) => c.startsWith('nso_session='))!;
};
const sessionHeader = (response: request.Response) => ({ Cookie: cookieOf(response).split(';')[0] });

describe('authentication, sessions and tokens', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway({ database: 'postgresql' });
  });
  afterAll(() => gateway.close());

  const http = () => request(gateway.url);

  describe('POST /auth/login', () => {
    it('logs the first admin (from ADMIN_USERNAME / ADMIN_PASSWORD) in with an HttpOnly, SameSite session cookie', async () => {
      const response = await http().post('/auth/login').send(TEST_ADMIN).expect(200);
      expect(response.body).toEqual({ success: true, redirect: '/dashboard' });
      const cookie = cookieOf(response);
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Lax/);
      expect(cookie).not.toMatch(/Max-Age|Expires/);
      expect(cookie).not.toMatch(/Secure/);
      await http().get('/api/projects').set(sessionHeader(response)).expect(200);
    });

    it('marks the cookie Secure behind TLS and long-lived with remember', async () => {
      const tls = await startGateway({ env: { TRUST_PROXY: 'loopback' } });
      try {
        const response = await request(tls.url)
          .post('/auth/login')
          .set('X-Forwarded-Proto', 'https')
          .send({ ...TEST_ADMIN, remember: true })
          .expect(200);
        const cookie = cookieOf(response);
        expect(cookie).toMatch(/Secure/);
        expect(cookie).toMatch(/Max-Age=2592000/);
      } finally {
        await tls.close();
      }
    });

    it.each([
      [{ username: 'admin', password: 'wrong-Password-1' }],
      [{ username: 'nobody', password: STRONG }],
    ])('answers 401 to wrong credentials %j', async (body) => {
      const response = await http().post('/auth/login').send(body).expect(401);
      expect(response.body).toEqual({ error: 'Invalid username or password' });
      expect(response.headers['set-cookie']).toBeUndefined();
    });

    it('stores only a scrypt hash of the password', async () => {
      const admin = await gateway.app.get(MikroORM).em.fork().findOneOrFail(User, { username: 'admin' });
      expect(admin.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
      expect(admin.passwordHash).not.toContain(TEST_ADMIN.password);
    });
  });

  describe('POST /auth/register', () => {
    it('creates a user, logs them in, and the new user is not an admin', async () => {
      const response = await http()
        .post('/auth/register')
        .send({
          username: 'newuser',
          email: 'user@example.com',
          password: STRONG,
          confirm_password: STRONG,
          first_name: 'John',
          last_name: 'Doe',
        })
        .expect(200);
      expect(response.body).toEqual({ success: true, redirect: '/dashboard' });
      const session = sessionHeader(response);
      await http().get('/api/projects').set(session).expect(200, []);
      await http().get('/api/users').set(session).expect(403, { error: 'Unauthorized' });
    });

    it.each([
      [{ username: 'NewUser' }, { username: 'username is already taken' }],
      [{ email: 'USER@example.com' }, { email: 'email is already registered' }],
      [
        { password: 'short1A', confirm_password: 'short1A' },
        { password: 'password must be at least 8 characters long' },
      ],
      [
        { password: 'alllowercase', confirm_password: 'alllowercase' },
        {
          password:
            'password must mix at least three of: lower-case letters, upper-case letters, digits, symbols',
        },
      ],
      [
        { confirm_password: 'Other-Pass-123' },
        { confirm_password: 'confirm_password does not match password' },
      ],
    ])('refuses %j with 400 naming the field', async (change, fields) => {
      const body = {
        username: 'other',
        email: 'other@example.com',
        password: STRONG,
        confirm_password: STRONG,
      };
      const response = await http()
        .post('/auth/register')
        .send({ ...body, ...change })
        .expect(400);
      expect(response.body.invalid_fields).toEqual(fields);
      expect(response.body.error).toBe(Object.values(fields).join('; '));
    });

    it('lists missing fields', async () => {
      const response = await http().post('/auth/register').send({ username: 'x1x' }).expect(400);
      expect(response.body).toMatchObject({
        error: 'Missing required fields',
        missing_fields: ['email', 'password', 'confirm_password'],
      });
    });

    it('is refused with 403 when REGISTRATION_OPEN=false', async () => {
      const closed = await startGateway({ env: { REGISTRATION_OPEN: 'false' } });
      try {
        await request(closed.url)
          .post('/auth/register')
          .send({ username: 'late', email: 'late@example.com', password: STRONG, confirm_password: STRONG })
          .expect(403, { error: 'Registration is closed' });
      } finally {
        await closed.close();
      }
    });
  });

  it('GET /auth/logout ends the session at once and redirects to the login page', async () => {
    const session = sessionHeader(await http().post('/auth/login').send(TEST_ADMIN).expect(200));
    const response = await http().get('/auth/logout').set(session).expect(302);
    expect(response.headers.location).toBe('/auth/login');
    expect(cookieOf(response)).toMatch(/nso_session=;/);
    await http().get('/api/projects').set(session).expect(401, { error: 'Session expired; log in again' });
  });

  describe('API tokens', () => {
    it('creates a token shown once, lists it without the secret, and revokes it at once', async () => {
      const created = await gateway.api().post('/api/tokens').send({ name: 'ci' }).expect(201);
      expect(created.body).toEqual({
        id: expect.any(Number),
        name: 'ci',
        token: expect.stringMatching(/^nso_/),
      });
      const bearer = { Authorization: `Bearer ${created.body.token}` };
      await http().get('/api/projects').set(bearer).expect(200);

      const listed = await gateway.api().get('/api/tokens').expect(200);
      const entry = listed.body.find((t: { id: number }) => t.id === created.body.id);
      expect(entry).toEqual({
        id: created.body.id,
        name: 'ci',
        created_at: expect.any(String),
        last_used_at: expect.any(String),
      });
      expect(Math.abs(Date.now() - Date.parse(entry.last_used_at))).toBeLessThan(60_000);
      expect(JSON.stringify(listed.body)).not.toContain(created.body.token);

      await gateway.api().delete(`/api/tokens/${created.body.id}`).expect(200, { message: 'Token revoked' });
      await http().get('/api/projects').set(bearer).expect(401, { error: 'Invalid or revoked token' });
    });

    it('refuses a malformed Authorization header', async () => {
      await http()
        .get('/api/projects')
        .set('Authorization', 'Token abc')
        .expect(401, { error: 'Authorization must be "Bearer <token>"' });
    });
  });

  describe('every endpoint needs an identity', () => {
    it.each([
      ['get', '/api/projects'],
      ['post', '/api/projects'],
      ['post', '/api/nmap/run'],
      ['post', '/api/scans/start'],
      ['get', '/api/scans/1'],
      ['post', '/api/scans/1/stop'],
      ['get', '/api/scans/1/events'],
      ['get', '/api/tokens'],
      ['post', '/api/tokens'],
      ['delete', '/api/tokens/1'],
      ['get', '/api/users'],
    ] as const)('%s %s answers 401 without a session or token', async (method, path) => {
      await http()[method](path).send({}).expect(401, { error: 'Authentication required' });
    });

    it('leaves /api/health and /auth/* open', async () => {
      await http().get('/api/health').expect(200);
      await http().get('/auth/login').expect(200);
    });

    it('closes an unauthenticated WebSocket with 4401', async () => {
      const socket = await openScanSocket(gateway.url, 1);
      expect(await socket.closed).toEqual({ code: 4401, reason: 'Authentication required' });
      expect(socket.messages).toEqual([]);
    });
  });

  it('keeps admin-only actions to admins: 403 {"error": "Unauthorized"}', async () => {
    const user = await gateway.newUser('plain');
    await gateway.api(user).get('/api/users').expect(403, { error: 'Unauthorized' });
    const users = await gateway.api().get('/api/users').expect(200);
    expect(users.body.map((u: { username: string; role: string }) => [u.username, u.role])).toContainEqual([
      'plain',
      'user',
    ]);
  });

  describe('CSRF: cookie-authenticated state changes must come from our own origin', () => {
    let session: { Cookie: string };
    beforeAll(async () => {
      session = sessionHeader(await http().post('/auth/login').send(TEST_ADMIN).expect(200));
    });

    it('refuses a cross-site POST with 403 and stores nothing', async () => {
      await http()
        .post('/api/projects')
        .set(session)
        .set('Origin', 'https://attacker.example')
        .send({ name: 'forged' })
        .expect(403, { error: 'Cross-site request refused' });
      await http()
        .post('/api/projects')
        .set(session)
        .set('Sec-Fetch-Site', 'cross-site')
        .send({ name: 'forged' })
        .expect(403);
      const list = await http().get('/api/projects').set(session).expect(200);
      expect(list.body.map((p: { name: string }) => p.name)).not.toContain('forged');
    });

    it('accepts the same POST from our own origin, and bearer requests from anywhere', async () => {
      await http()
        .post('/api/projects')
        .set(session)
        .set('Origin', gateway.url)
        .send({ name: 'same-site' })
        .expect(200);
      await gateway
        .api()
        .post('/api/projects')
        .set('Origin', 'https://attacker.example')
        .send({ name: 'bearer' })
        .expect(200);
    });

    it('refuses a cross-site WebSocket handshake carrying the cookie', async () => {
      const started = await gateway
        .api()
        .post('/api/scans/start')
        .send({ nmap_flags: ['-sT'], targets: ['127.0.0.1'] });
      const socket = await openScanSocket(gateway.url, started.body.scan_id, {
        headers: { ...session, Origin: 'https://attacker.example' },
      });
      expect(await socket.closed).toEqual({ code: 4403, reason: 'Cross-site WebSocket refused' });
      expect(socket.messages).toEqual([]);
    });
  });

  describe("another user's resources are 404", () => {
    let other: TestUser;
    let scanId: number;
    let projectId: number;
    beforeAll(async () => {
      other = await gateway.newUser('intruder');
      projectId = (await gateway.api().post('/api/projects').send({ name: 'private' }).expect(200)).body.id;
      const started = await gateway
        .api()
        .post('/api/scans/start')
        .send({ project_id: projectId, nmap_flags: ['-sT'], targets: ['127.0.0.1'] })
        .expect(200);
      scanId = started.body.scan_id;
    });

    it('projects: not listed, and not usable for a scan', async () => {
      const list = await gateway.api(other).get('/api/projects').expect(200);
      expect(list.body).toEqual([]);
      await gateway
        .api(other)
        .post('/api/scans/start')
        .send({ project_id: projectId, nmap_flags: ['-sT'], targets: ['127.0.0.1'] })
        .expect(404, { error: 'Project not found' });
    });

    it('scans and their runs: describe, stop and the SSE stream', async () => {
      await gateway.api(other).get(`/api/scans/${scanId}`).expect(404, { error: 'Scan not found' });
      await gateway.api(other).post(`/api/scans/${scanId}/stop`).expect(404, { error: 'Scan not found' });
      await gateway.api(other).get(`/api/scans/${scanId}/events`).expect(404, { error: 'Scan not found' });
      await expect(
        readSse(`${gateway.url}/api/scans/${scanId}/events`, other.auth, 'scan_complete', 2000),
      ).rejects.toThrow(/404/);
    });

    it('the WebSocket closes with 4404 without sending any of the scan’s events', async () => {
      const socket = await openScanSocket(gateway.url, scanId, { headers: other.auth });
      expect(await socket.closed).toEqual({ code: 4404, reason: 'Scan not found' });
      expect(socket.messages).toEqual([]);
    });

    it('tokens: another user’s token cannot be listed or revoked', async () => {
      const mine = await gateway.api().post('/api/tokens').send({ name: 'mine' }).expect(201);
      const theirs = await gateway.api(other).get('/api/tokens').expect(200);
      expect(theirs.body.map((t: { id: number }) => t.id)).not.toContain(mine.body.id);
      await gateway
        .api(other)
        .delete(`/api/tokens/${mine.body.id}`)
        .expect(404, { error: 'Token not found' });
      await http()
        .get('/api/projects')
        .set({ Authorization: `Bearer ${mine.body.token}` })
        .expect(200);
    });
  });

  it('limits failed logins per account: locked after 5 failures, even for the right password', async () => {
    const user = 'guessme';
    await gateway.newUser(user);
    for (let i = 0; i < 5; i++) {
      await http()
        .post('/auth/login')
        .send({ username: user, password: `Wrong-Pass-${i}` })
        .expect(401);
    }
    const locked = await http()
      .post('/auth/login')
      .send({ username: user, password: 'Test-User-Pass-1' })
      .expect(429);
    expect(locked.body.error).toMatch(/^Too many failed logins; try again in \d+ seconds$/);
    // Other accounts from the same address are not locked by this one.
    await http().post('/auth/login').send(TEST_ADMIN).expect(200);
  });
});
