import { startGateway, TestGateway } from '../../../../test/support/gateway';
import { Listener, listenOn } from '../../../../test/support/listeners';
import { FAILING_TARGET, NmapShim, SHIM_FAILURE, writeNmapShim } from '../../../../test/support/nmap-shim';
import { waitUntil } from '../../../../test/support/nmap-processes';

// Real nmap against listeners this test opens on loopback addresses. Nothing else is ever scanned. nmap runs
// behind a shim that prints the argv it is handed ("nmap argv: ...") and fails on FAILING_TARGET.
describe('POST /api/nmap/run', () => {
  let gateway: TestGateway;
  let listener: Listener;
  let shim: NmapShim;

  beforeAll(async () => {
    shim = writeNmapShim();
    gateway = await startGateway({ env: { NMAP_PATH: shim.path, NMAP_RUN_MAX_PER_USER: '1' } });
    listener = await listenOn('127.0.0.23');
  });
  afterAll(async () => {
    await listener.close();
    await gateway.close();
    shim.remove();
  });

  /** The targets nmap was handed: what follows "--" on the shim's argv line. */
  const nmapTargets = (stdout: string): string[] =>
    (/^nmap argv: .* -- (.*)$/m.exec(stdout)?.[1] ?? '').split(' ');

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

  it('answers 500 with nmap stderr in `stderr` and in `detail` (as the original API) when nmap fails', async () => {
    const response = await gateway
      .api()
      .post('/api/nmap/run')
      .send({ nmap_flags: ['-sT', '-p', '1'], targets: [FAILING_TARGET] })
      .expect(500);
    expect(response.body).toEqual({
      error: 'nmap failed with exit code 1',
      exit_code: 1,
      stderr: `${SHIM_FAILURE}\n`,
      detail: `${SHIM_FAILURE}\n`,
      stdout: expect.stringMatching(/^nmap argv: /),
    });
    expect(JSON.stringify(response.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it.each<[string[], string[]]>([
    // Issue 8, B.5: nmap 7.93 prints QUITTING! for each; they used to reach nmap and answer 500.
    [
      ['-sO', '-p', '1000'],
      ['-p', '-sO'],
    ],
    [
      ['-sn', '-F'],
      ['-F', '-sn'],
    ],
    [['-sT', '-p', '80', '-p', '443'], ['-p']],
    [
      ['--min-rate', '10', '--max-rate', '1'],
      ['--min-rate', '--max-rate'],
    ],
    [
      ['--max-hostgroup', '2', '--min-hostgroup', '10'],
      ['--min-hostgroup', '--max-hostgroup'],
    ],
    [
      ['-4', '-6'],
      ['-6', '-4'],
    ],
  ])('refuses %j, which nmap refuses at start-up, with 400 naming %j', async (flags, options) => {
    const response = await gateway
      .api()
      .post('/api/nmap/run')
      .send({ nmap_flags: flags, targets: ['127.0.0.1'] })
      .expect(400);
    expect(response.body.option).toBe(options[0]);
    expect(response.body.options ?? [response.body.option]).toEqual(options);
    for (const option of options) expect(response.body.error).toContain(JSON.stringify(option));
  });

  it.each<[string[], string[], RegExp]>([
    // nmap skips an IPv4 target under -6 and "completes" having scanned nothing.
    [['-6'], ['127.0.0.1'], /-6 scans IPv6 only/],
    [['-4'], ['::1'], /-4 scans IPv4 only/],
    [[], ['0x7f000001'], /IPv4 address in hex, octal or short form/],
  ])('refuses flags %j with targets %j (400, invalid_targets)', async (flags, targets, message) => {
    const response = await gateway
      .api()
      .post('/api/nmap/run')
      .send({ nmap_flags: flags, targets })
      .expect(400);
    expect(response.body.error).toMatch(message);
    expect(response.body.invalid_targets).toEqual(targets);
  });

  it('resolves a host name once and hands nmap the address, never the name (issue 8, B.6)', async () => {
    const response = await gateway
      .api()
      .post('/api/nmap/run')
      .send({ nmap_flags: ['-sT', '-Pn', '-p', String(listener.port)], targets: ['localhost'] })
      .expect(200);
    expect(nmapTargets(response.body.stdout)).toEqual(['127.0.0.1']);
    expect(response.body.stdout).not.toMatch(/argv: .*localhost/);
    expect(response.body.stdout).toMatch(/^Nmap scan report for .*127\.0\.0\.1/m);
  });

  it('scans each address once, in ascending order, whatever overlaps in the targets', async () => {
    const response = await gateway
      .api()
      .post('/api/nmap/run')
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', String(listener.port)],
        targets: ['127.0.0.23', '127.0.0.22-23', '127.0.0.23'],
      })
      .expect(200);
    expect(nmapTargets(response.body.stdout)).toEqual(['127.0.0.22', '127.0.0.23']);
    expect(response.body.stdout.match(/^Nmap scan report for 127\.0\.0\.23$/gm)).toHaveLength(1);
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
    // nmap/run keeps nmap_flags required, as seed 000 documents it (only scans/start has defaults).
    [{ targets: ['127.0.0.1'] }, 'nmap_flags'],
    [{ nmap_flags: ['-sT'] }, 'targets'],
  ])('answers 400 missing_fields for %j', async (body, field) => {
    const response = await gateway.api().post('/api/nmap/run').send(body).expect(400);
    expect(response.body).toMatchObject({ error: 'Missing required fields', missing_fields: [field] });
  });

  it('answers 429 to a user who already has NMAP_RUN_MAX_PER_USER runs under way, not to another user', async () => {
    // A run that takes about 20 s (40 ports, 500 ms apart), until its client hangs up and nmap is ended.
    const hangUp = new AbortController();
    const slow = fetch(`${gateway.url}/api/nmap/run`, {
      method: 'POST',
      headers: { ...gateway.admin.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        nmap_flags: ['-sT', '-Pn', '-n', '--scan-delay', '500ms', '-p', '1-40'],
        targets: ['127.0.0.23'],
      }),
      signal: hangUp.signal,
    }).catch((error: Error) => error);
    const quick = { nmap_flags: ['-sT', '-Pn', '-n', '-p', String(listener.port)], targets: ['127.0.0.23'] };
    // Until the slow run holds the admin's one slot, a quick run of theirs goes through (and ends at once).
    let refused: { status: number; body: { error?: string } } | undefined;
    await waitUntil(
      async () => {
        const answer = await gateway.api().post('/api/nmap/run').send(quick);
        if (answer.status === 429) refused = answer;
        return refused !== undefined;
      },
      10_000,
      'a second run of the admin refused',
    );
    expect(refused!.body).toEqual({ error: expect.stringMatching(/^at most 1 nmap runs of yours at once/) });
    const other = await gateway.newUser('nmap-run-other');
    await gateway.api(other).post('/api/nmap/run').send(quick).expect(200);
    // The slow run's client hangs up: its nmap ends and the admin may run again.
    hangUp.abort();
    await slow;
    await waitUntil(
      async () => (await gateway.api().post('/api/nmap/run').send(quick)).status === 200,
      10_000,
      "the admin's slot free again",
    );
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
