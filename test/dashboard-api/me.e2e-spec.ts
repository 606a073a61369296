import request from 'supertest';
import { TEST_DATABASES } from '../support/database';
import { startGateway, TestGateway } from '../support/gateway';

// GET /api/me: who the dashboard is signed in as (DASHBOARD.md §5), by session cookie or API token.
describe.each(TEST_DATABASES)('GET /api/me on %s', (database) => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway({ database, localPool: false });
  });
  afterAll(() => gateway.close());

  it("answers the token's user: the admin, with its role", async () => {
    const { body } = await gateway.api().get('/api/me').expect(200);
    expect(body).toEqual({
      id: gateway.admin.id,
      username: 'admin',
      email: null,
      role: 'admin',
      first_name: null,
      last_name: null,
    });
  });

  it('answers the session of a user who registered, with their names and the role user', async () => {
    const password = 'Me-Test-Pass-1';
    const registered = await request(gateway.url)
      .post('/auth/register')
      .send({
        username: 'Grace',
        email: 'Grace@Example.com',
        password,
        confirm_password: password,
        first_name: 'Grace',
        last_name: 'Hopper',
      })
      .expect(200);
    const cookie = (registered.headers['set-cookie'] as unknown as string[])
      .find((c) => c.startsWith('nso_session='))!
      .split(';')[0];
    const { body } = await request(gateway.url).get('/api/me').set('Cookie', cookie).expect(200);
    expect(body).toEqual({
      id: expect.any(Number),
      username: 'grace',
      email: 'grace@example.com',
      role: 'user',
      first_name: 'Grace',
      last_name: 'Hopper',
    });
    expect(body).not.toHaveProperty('password_hash');
  });

  it('is a 401 signed out, with an expired session or a revoked token', async () => {
    await request(gateway.url).get('/api/me').expect(401, { error: 'Authentication required' });
    await request(gateway.url)
      .get('/api/me')
      .set('Cookie', 'nso_session=not-a-session')
      .expect(401, { error: 'Session expired; log in again' });
    const user = await gateway.newUser('leaving');
    const tokens = await gateway.api(user).get('/api/tokens').expect(200);
    const tokenId = tokens.body[0].id as number;
    await gateway.api(user).delete(`/api/tokens/${tokenId}`).expect(200);
    await gateway.api(user).get('/api/me').expect(401, { error: 'Invalid or revoked token' });
  });
});
