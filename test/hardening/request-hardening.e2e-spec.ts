// Issue 8, A.2-A.4, on a gateway process on PostgreSQL (where a NUL byte used to reach the driver): inputs the
// body layer, the validation or the path parameters refused with a 500, or let through mangled, are each a 4xx
// in the documented error shape now; the log carries no secret; the login limiter is left clean.
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import WebSocket from 'ws';
import { TEST_ADMIN } from '../support/gateway';
import { GatewayProcess, startGatewayProcess } from '../support/gateway-process';

const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('request hardening (gateway process, PostgreSQL)', () => {
  let gateway: GatewayProcess;
  const api = () => request(gateway.url);

  beforeAll(async () => {
    gateway = await startGatewayProcess({
      database: 'postgresql',
      env: { RATE_LIMIT_ANONYMOUS: '10000', LOG_LEVEL: 'log' },
    });
  });
  afterAll(async () => {
    await gateway?.close();
  });
  afterEach(async () => {
    expect(await gateway.healthy()).toBe(true);
  });

  /** POST routes with a JSON body, and the headers that authenticate each. */
  const bodyRoutes = () =>
    [
      ['/auth/login', {}],
      ['/auth/register', {}],
      ['/api/projects', gateway.auth],
      ['/api/tokens', gateway.auth],
      ['/api/scans/start', gateway.auth],
      ['/api/nmap/run', gateway.auth],
    ] as Array<[string, Record<string, string>]>;

  describe('the body layer', () => {
    it('answers JSON nested 10,000 deep with 400 on every route that takes a body', async () => {
      for (const [path, auth] of bodyRoutes()) {
        for (const body of [`{"username":${deep(10_000)}}`, deep(10_000), `{"a":${deep(33)}}`]) {
          const response = await api()
            .post(path)
            .set(auth)
            .set('Content-Type', 'application/json')
            .send(body);
          expect([path, response.status, response.body]).toEqual([
            path,
            400,
            { error: 'Request body nested too deeply (at most 32 levels)' },
          ]);
        }
      }
    });

    it('answers a body that is not what its Content-Encoding says with 400, an unknown encoding with 415', async () => {
      const routes: Array<[string, string, Record<string, string>]> = [
        ...bodyRoutes().map(([path, auth]): [string, string, Record<string, string>] => ['post', path, auth]),
        ['get', '/api/projects', gateway.auth],
        ['get', '/api/health', {}],
        ['post', '/no/such/route', {}],
      ];
      for (const [method, path, auth] of routes) {
        for (const encoding of ['gzip', 'deflate', 'br']) {
          const response = await api()
            [method as 'post' | 'get'](path)
            .set(auth)
            .set('Content-Type', 'application/json')
            .set('Content-Encoding', encoding)
            .send('{"name":"plain text, not compressed"}');
          expect([path, encoding, response.status, response.body]).toEqual([
            path,
            encoding,
            400,
            { error: 'Request body does not match its Content-Encoding' },
          ]);
        }
        const unknown = await api()
          [method as 'post' | 'get'](path)
          .set(auth)
          .set('Content-Type', 'application/json')
          .set('Content-Encoding', 'compress')
          .send('{}');
        expect([path, unknown.status, unknown.body.error]).toEqual([
          path,
          415,
          'Unsupported Content-Encoding (use gzip, deflate, br or none)',
        ]);
      }
    });

    it('still reads a body that really is gzip', async () => {
      // fetch, as superagent would serialise a Buffer as JSON when the type is JSON
      const response = await fetch(`${gateway.url}/api/projects`, {
        method: 'POST',
        headers: { ...gateway.auth, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
        body: gzipSync(JSON.stringify({ name: 'Compressed' })),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ name: 'Compressed' });
    });
  });

  describe('control characters', () => {
    const nul = 'a\u0000b';

    it('refuses NUL (and other control characters) with a 400 naming the field, and logs no secret', async () => {
      const logFrom = gateway.process.output().length;
      const cases: Array<[string, Record<string, string>, Record<string, unknown>, string]> = [
        ['/api/projects', gateway.auth, { name: nul }, 'name'],
        ['/api/projects', gateway.auth, { name: 'ok', description: nul }, 'description'],
        ['/api/tokens', gateway.auth, { name: nul }, 'name'],
        ['/auth/login', {}, { username: nul, password: 'x' }, 'username'],
        [
          '/auth/login',
          {},
          { username: TEST_ADMIN.username, password: `${TEST_ADMIN.password}\u0000` },
          'password',
        ],
        [
          '/auth/register',
          {},
          { username: 'nulluser', email: 'n@example.com', password: nul, confirm_password: nul },
          'password',
        ],
        [
          '/auth/register',
          {},
          {
            username: 'nulluser',
            email: 'n@example.com',
            password: 'Pass-word-1',
            confirm_password: 'Pass-word-1',
            first_name: nul,
          },
          'first_name',
        ],
        ['/api/projects', gateway.auth, { name: 'esc\u001b[2J' }, 'name'],
        [
          '/api/nmap/run',
          gateway.auth,
          { nmap_flags: ['-sT', `-p${nul}`], targets: ['127.0.0.1'] },
          'nmap_flags',
        ],
        ['/api/scans/start', gateway.auth, { nmap_flags: ['-sT'], targets: [`127.0.0.1${nul}`] }, 'targets'],
      ];
      for (const [path, auth, body, field] of cases) {
        const response = await api().post(path).set(auth).send(body);
        expect([path, field, response.status]).toEqual([path, field, 400]);
        expect(response.body.error).toMatch(new RegExp(`${field} must not contain control characters`));
      }
      const log = gateway.process.output().slice(logFrom);
      expect(log).not.toMatch(/scrypt\$/);
      expect(log).not.toMatch(/[0-9a-f]{64}/);
      expect(log).not.toMatch(/insert into|select .* from|DriverException|ERROR/i);
    });

    it('leaves the login limiter clean: after 20 bad-body logins the right password logs in', async () => {
      for (let i = 0; i < 20; i++) {
        await api()
          .post('/auth/login')
          .send({ username: `${TEST_ADMIN.username}\u0000${i}`, password: TEST_ADMIN.password })
          .expect(400);
        await api()
          .post('/auth/login')
          .set('Content-Type', 'application/json')
          .send(`{"username":"${TEST_ADMIN.username}","password":${deep(100)}}`)
          .expect(400);
      }
      await api().post('/auth/login').send(TEST_ADMIN).expect(200);
    });
  });

  describe('silently dropped or mangled input', () => {
    it('refuses __proto__, constructor and prototype keys on every route that takes a body', async () => {
      for (const [path, auth] of bodyRoutes()) {
        for (const key of ['__proto__', 'constructor', 'prototype']) {
          const response = await api()
            .post(path)
            .set(auth)
            .set('Content-Type', 'application/json')
            .send(
              `{"${key}": {"isAdmin": true}, "name": "x", "username": "u", "password": "p", "nmap_flags": ["-sT"], "targets": ["127.0.0.1"], "email": "e@example.com", "confirm_password": "p"}`,
            );
          expect([path, key, response.status, response.body.unknown_fields]).toEqual([
            path,
            key,
            400,
            expect.arrayContaining([key]),
          ]);
          expect(response.body.error).toMatch(/^Unknown fields?: /);
        }
      }
    });

    it('trims names and refuses one of only white space', async () => {
      for (const name of ['   ', ' \t ', '']) {
        for (const path of ['/api/projects', '/api/tokens']) {
          const response = await api().post(path).set(gateway.auth).send({ name });
          expect([path, JSON.stringify(name), response.status, response.body.error]).toEqual([
            path,
            JSON.stringify(name),
            400,
            'name should not be empty',
          ]);
        }
      }
      await api().post('/api/projects').set(gateway.auth).send({ name: '  Trimmed lab  ' }).expect(200);
      const projects = await api().get('/api/projects').set(gateway.auth).expect(200);
      const names = (projects.body as Array<{ name: string }>).map((p) => p.name);
      expect(names).toContain('Trimmed lab');
      expect(names).not.toContain('');
      const token = await api().post('/api/tokens').set(gateway.auth).send({ name: ' ci ' }).expect(201);
      expect(token.body.name).toBe('ci');
    });
  });

  describe('path ids', () => {
    const odd = (id: number) => [
      `0x${id.toString(16)}`,
      `${id}.0`,
      `+${id}`,
      `%20${id}`,
      `${id}%20`,
      `0${id}`,
      `${id}e0`,
      `0o${id.toString(8)}`,
      `0b${id.toString(2)}`,
      `${id}abc`,
      '9007199254740993',
      '0',
      '-1',
    ];
    let scanId: number;

    beforeAll(async () => {
      // A scan definition that is never run: a scan to address, nothing scanned.
      const created = await api()
        .post('/api/scans')
        .set(gateway.auth)
        .send({ name: 'ids', target: '127.0.0.1', ports: '9', scan_arguments: '-sT -Pn -n' })
        .expect(201);
      scanId = created.body.scan.id;
    });

    it('are canonical decimal integers on every REST route with an id', async () => {
      await api().get(`/api/scans/${scanId}`).set(gateway.auth).expect(200);
      for (const id of odd(scanId)) {
        for (const [method, path] of [
          ['get', `/api/scans/${id}`],
          ['put', `/api/scans/${id}`],
          ['delete', `/api/scans/${id}`],
          ['post', `/api/scans/${id}/stop`],
          ['post', `/api/scans/${id}/toggle`],
          ['get', `/api/scans/${id}/execute`],
          ['get', `/api/scans/${id}/events`],
          ['get', `/api/scans/${id}/results`],
        ] as const) {
          const response = await api()[method](path).set(gateway.auth);
          expect([path, response.status, response.body]).toEqual([
            path,
            400,
            { error: 'scan_id must be a positive integer' },
          ]);
        }
      }
    });

    it('never revoke a token addressed as 0x10 or the like', async () => {
      const created = await api().post('/api/tokens').set(gateway.auth).send({ name: 'kept' }).expect(201);
      const victim = { Authorization: `Bearer ${created.body.token}` };
      for (const id of odd(created.body.id)) {
        const response = await api().delete(`/api/tokens/${id}`).set(gateway.auth);
        expect([id, response.status, response.body]).toEqual([
          id,
          400,
          { error: 'token id must be a positive integer' },
        ]);
      }
      await api().get('/api/projects').set(victim).expect(200);
      await api().delete(`/api/tokens/${created.body.id}`).set(gateway.auth).expect(200);
      await api().get('/api/projects').set(victim).expect(401);
    });

    /** The close code and first message of /ws/scans/<id>. */
    const openSocket = (id: string) =>
      new Promise<{ code: number; first?: string }>((resolve, reject) => {
        const socket = new WebSocket(`${gateway.url.replace('http', 'ws')}/ws/scans/${id}`, {
          headers: gateway.auth,
        });
        let first: string | undefined;
        socket.on('message', (data) => {
          first ??= data.toString();
          socket.close();
        });
        socket.on('close', (code) => resolve({ code, first }));
        socket.on('error', reject);
      });

    it('are canonical on the WebSocket too (close 4400)', async () => {
      for (const id of odd(scanId)) {
        expect([id, (await openSocket(id)).code]).toEqual([id, 4400]);
      }
      const canonical = await openSocket(String(scanId));
      expect(JSON.parse(canonical.first!)).toEqual({ event: 'connected', scan_id: scanId });
    });
  });
});
