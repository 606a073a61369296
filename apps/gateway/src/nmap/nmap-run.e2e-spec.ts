import { startGateway, TestGateway } from '../../../../test/support/gateway';
import { Listener, listenOn } from '../../../../test/support/listeners';

// Real nmap against listeners this test opens on loopback addresses. Nothing else is ever scanned.
describe('POST /api/nmap/run', () => {
  let gateway: TestGateway;
  let listener: Listener;

  beforeAll(async () => {
    gateway = await startGateway();
    listener = await listenOn('127.0.0.23');
  });
  afterAll(async () => {
    await listener.close();
    await gateway.close();
  });

  it('runs nmap and answers 200 {stdout, exit_code} with the open port in stdout', async () => {
    const response = await gateway
      .api()
      .post('/api/nmap/run')
      .send({ nmap_flags: ['-sT', '-Pn', '-n', '-p', String(listener.port)], targets: ['127.0.0.23'] })
      .expect(200);
    expect(response.body).toEqual({ stdout: expect.any(String), exit_code: 0 });
    expect(response.body.stdout).toMatch(new RegExp(`^${listener.port}/tcp\\s+open`, 'm'));
    expect(response.body.stdout).toContain('Nmap scan report for 127.0.0.23');
  });

  it('answers 500 with nmap stderr when nmap fails', async () => {
    // Both options pass the policy, but nmap itself refuses the combination.
    const response = await gateway
      .api()
      .post('/api/nmap/run')
      .send({
        nmap_flags: ['-sT', '-p', '1', '--min-rate', '100', '--max-rate', '10'],
        targets: ['127.0.0.1'],
      })
      .expect(500);
    expect(response.body).toMatchObject({
      exit_code: 1,
      stderr: expect.stringContaining('must be less than or equal to --max-rate'),
    });
    expect(JSON.stringify(response.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it.each([
    ['-oX', ['-oX', 'out.xml']],
    ['-iL', ['-iL', '/etc/passwd']],
    ['--script', ['--script', 'default']],
    ['-S', ['-S', '127.0.0.2']],
    ['--not-an-option', ['--not-an-option']],
  ])('refuses the option %s with 400 naming it', async (option, flags) => {
    const response = await gateway
      .api()
      .post('/api/nmap/run')
      .send({ nmap_flags: flags, targets: ['127.0.0.1'] })
      .expect(400);
    expect(response.body.error).toContain(option);
    expect(response.body.option).toBe(option);
  });

  it.each([['-oX'], ['127.0.0.1;id'], ['a b'], ['']])('refuses the target %j with 400', async (target) => {
    const response = await gateway
      .api()
      .post('/api/nmap/run')
      .send({ nmap_flags: ['-sT'], targets: [target] })
      .expect(400);
    expect(response.body.error).toEqual(expect.any(String));
  });

  it.each([
    [
      ['127.0.0.1', '192.0.2.10', '198.51.100.7'],
      ['192.0.2.10', '198.51.100.7'],
    ],
    [['::1', '2001:db8::1'], ['2001:db8::1']],
  ])('refuses targets outside the scan scope with 400 listing them: %j', async (targets, outside) => {
    // Documentation ranges (RFC 5737 / 3849): never reachable, and refused before nmap starts.
    const response = await gateway
      .api()
      .post('/api/nmap/run')
      .send({ nmap_flags: ['-sT'], targets })
      .expect(400);
    expect(response.body.out_of_scope).toEqual(outside);
  });

  it('refuses IPv4 and IPv6 targets in one run, since nmap scans one family at a time', async () => {
    const response = await gateway
      .api()
      .post('/api/nmap/run')
      .send({ nmap_flags: ['-sT'], targets: ['127.0.0.1', '::1'] })
      .expect(400);
    expect(response.body).toEqual({
      error:
        'targets mix IPv4 (127.0.0.1) and IPv6 (::1); nmap scans one family per run, so send them separately',
      invalid_targets: ['::1'],
    });
  });

  it('scans ::1 over IPv6', async () => {
    const listener6 = await listenOn('::1');
    try {
      const response = await gateway
        .api()
        .post('/api/nmap/run')
        .send({ nmap_flags: ['-sT', '-Pn', '-n', '-p', String(listener6.port)], targets: ['::1'] })
        .expect(200);
      expect(response.body.stdout).toMatch(new RegExp(`^${listener6.port}/tcp\\s+open`, 'm'));
    } finally {
      await listener6.close();
    }
  });

  it.each([
    [{ targets: ['127.0.0.1'] }, 'nmap_flags'],
    [{ nmap_flags: ['-sT'] }, 'targets'],
  ])('answers 400 missing_fields for %j', async (body, field) => {
    const response = await gateway.api().post('/api/nmap/run').send(body).expect(400);
    expect(response.body).toMatchObject({ error: 'Missing required fields', missing_fields: [field] });
  });

  it('refuses a malformed body and unknown fields', async () => {
    await gateway
      .api()
      .post('/api/nmap/run')
      .set('Content-Type', 'application/json')
      .send('{"nmap_flags": [')
      .expect(400, { error: 'Malformed JSON body' });
    const unknown = await gateway
      .api()
      .post('/api/nmap/run')
      .send({ nmap_flags: [], targets: ['127.0.0.1'], shell: 'sh' })
      .expect(400);
    expect(unknown.body.error).toBe('Unknown field: shell');
  });
});
