import request from 'supertest';
import { startGateway, TEST_ADMIN, TestGateway } from '../support/gateway';

// Issue 17, point 6: login, register and logout check the origin like every other state change (Origin, then
// Sec-Fetch-Site, then Referer), with or without a cookie; logout is a POST, and its GET answers same-origin
// navigation only. A cross-site page cannot log a browser into the attacker's account, or out of its own.
describe('login CSRF (issue 17)', () => {
  let gateway: TestGateway;
  let own: string;
  const http = () => request(gateway.url);
  const STRONG = 'Str0ng-Passw0rd!';
  const EVIL = 'https://evil.example';
  const cookieOf = (response: request.Response): string | undefined =>
    (response.headers['set-cookie'] as unknown as string[] | undefined)?.find((c) =>
      c.startsWith('nso_session='),
    );
  const login = async () => {
    const cookie = cookieOf(await http().post('/auth/login').set('Origin', own).send(TEST_ADMIN).expect(200));
    return { Cookie: cookie!.split(';')[0] };
  };
  const stillLoggedIn = (session: { Cookie: string }) => http().get('/api/projects').set(session);

  beforeAll(async () => {
    gateway = await startGateway({ env: { REGISTRATION_OPEN: 'true' } });
    own = `http://${new URL(gateway.url).host}`;
  });
  afterAll(() => gateway.close());

  it.each([
    ['Origin', () => ({ Origin: EVIL })],
    ['Origin null (a sandboxed frame)', () => ({ Origin: 'null' })],
    // Sec-Fetch-Site decides before a Referer of our own origin.
    ['Sec-Fetch-Site', () => ({ 'Sec-Fetch-Site': 'cross-site', Referer: `${own}/` })],
    ['Referer', () => ({ Referer: `${EVIL}/login.html` })],
  ])(
    'refuses a cross-site login form without a cookie, by %s: 403 and no Set-Cookie',
    async (_by, headers) => {
      const response = await http()
        .post('/auth/login')
        .set(headers())
        .type('form')
        .send({ username: TEST_ADMIN.username, password: TEST_ADMIN.password });
      expect(response.status).toBe(403);
      expect(response.body).toEqual({ error: 'Cross-site request refused' });
      expect(cookieOf(response)).toBeUndefined();
    },
  );

  it('refuses a cross-site registration, creating no user', async () => {
    const body = {
      username: 'csrf-victim',
      email: 'csrf@example.com',
      password: STRONG,
      confirm_password: STRONG,
    };
    await http().post('/auth/register').set('Origin', EVIL).send(body).expect(403);
    await http().post('/auth/login').send({ username: 'csrf-victim', password: STRONG }).expect(401);
    await http().post('/auth/register').set('Origin', own).send(body).expect(200);
  });

  it('takes a login from its own pages, and from clients that are not browsers', async () => {
    await login();
    await http().post('/auth/login').set('Sec-Fetch-Site', 'same-origin').send(TEST_ADMIN).expect(200);
    await http().post('/auth/login').send(TEST_ADMIN).expect(200);
  });

  it('ends a session by POST from its own origin, never from another site', async () => {
    const session = await login();
    await http().post('/auth/logout').set(session).set('Origin', EVIL).expect(403);
    await stillLoggedIn(session).expect(200);
    const out = await http().post('/auth/logout').set(session).set('Origin', own).expect(200);
    expect(out.body).toEqual({ success: true, redirect: '/auth/login' });
    expect(cookieOf(out)).toMatch(/nso_session=;/);
    await stillLoggedIn(session).expect(401);
  });

  it('keeps GET /auth/logout for same-origin navigation only', async () => {
    const session = await login();
    for (const headers of [{ 'Sec-Fetch-Site': 'cross-site' }, { Referer: `${EVIL}/` }]) {
      await http().get('/auth/logout').set(session).set(headers).expect(403);
      await stillLoggedIn(session).expect(200);
    }
    const out = await http()
      .get('/auth/logout')
      .set(session)
      .set({ 'Sec-Fetch-Site': 'same-origin', Referer: `${own}/` })
      .expect(302);
    expect(out.headers.location).toBe('/auth/login');
    await stillLoggedIn(session).expect(401);
    // Typed into the address bar (Sec-Fetch-Site: none) it works too.
    const typed = await login();
    await http().get('/auth/logout').set(typed).set('Sec-Fetch-Site', 'none').expect(302);
    await stillLoggedIn(typed).expect(401);
  });
});
