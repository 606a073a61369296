import { startGateway, TestGateway } from '../../../../test/support/gateway';

describe.each(['sqlite', 'postgresql'] as const)('projects API on %s', (database) => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway({ database });
  });
  afterAll(() => gateway.close());

  it('creates a project with 200 and {id, name}, then lists it with its description', async () => {
    const created = await gateway
      .api()
      .post('/api/projects')
      .send({ name: 'Lab', description: 'loopback listeners' })
      .expect(200);
    expect(created.body).toEqual({ id: expect.any(Number), name: 'Lab' });

    await gateway.api().post('/api/projects').send({ name: 'No description' }).expect(200);

    const list = await gateway.api().get('/api/projects').expect(200);
    expect(list.body).toEqual([
      { id: created.body.id, name: 'Lab', description: 'loopback listeners' },
      { id: expect.any(Number), name: 'No description', description: null },
    ]);
  });

  it('answers 409 for a name that exists, and stores nothing twice', async () => {
    await gateway.api().post('/api/projects').send({ name: 'Twice' }).expect(200);
    const again = await gateway.api().post('/api/projects').send({ name: 'Twice' }).expect(409);
    expect(again.body).toEqual({ error: 'A project named "Twice" already exists' });
    const list = await gateway.api().get('/api/projects').expect(200);
    expect(list.body.filter((p: { name: string }) => p.name === 'Twice')).toHaveLength(1);
  });

  it.each([
    [{}, { error: 'Missing required fields', missing_fields: ['name'] }],
    [{ name: '' }, { error: 'name should not be empty' }],
    [{ name: 42 }, { error: 'name must be a string' }],
    [{ name: 'x', owner: 'me' }, { error: 'Unknown field: owner' }],
    [{ name: 'x', description: ['a'] }, { error: 'description must be a string' }],
  ])('refuses %j with 400 naming the problem', async (body, expected) => {
    const response = await gateway.api().post('/api/projects').send(body).expect(400);
    expect(response.body).toMatchObject(expected);
  });

  it('answers 400, not 500, for a malformed JSON body', async () => {
    const response = await gateway
      .api()
      .post('/api/projects')
      .set('Content-Type', 'application/json')
      .send('{"name": "broken"')
      .expect(400);
    expect(response.body).toEqual({ error: 'Malformed JSON body' });
  });

  it('answers unknown routes with a 404 in the error shape', async () => {
    const response = await gateway.api().get('/api/nothing-here').expect(404);
    expect(response.body).toEqual({ error: 'Cannot GET /api/nothing-here' });
  });
});
