// Issue 8, "Tests": a bounded fuzz test over every route of the gateway (a real process), from a fixed seed.
// Malformed bodies (bad JSON, wrong types, deep nesting, huge strings, control characters, reserved keys), bad
// encodings and content types, odd ids and query values, odd credentials, then malformed upgrades. Every answer
// must be below 500, every error a JSON object with a string `error`, and the gateway healthy at the end.
//
// Nothing here can scan anything but loopback: no worker runs (started scans stay queued), the only target
// ever sent in a valid shape is 127.0.0.1, every other target value fails validation before any name is
// resolved, and the one-off nmap run's base flags carry -oX, which the policy refuses before nmap starts.
//
// FUZZ_SEED=<n> replays another sequence; the seed is in every failure message.
import { gzipSync } from 'node:zlib';
import { GatewayProcess, startGatewayProcess } from '../support/gateway-process';
import { rawExchange, upgradeRequest } from '../support/raw-http';

const SEED = Number(process.env.FUZZ_SEED || 0x5eed8);
const CASES_PER_ROUTE = 36;
const REQUEST_TIMEOUT_MS = 10_000;

/** mulberry32: a small deterministic PRNG, so a failing sequence can be replayed from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** `{id}` is replaced by an id (canonical or odd). */
  path: string;
  /** A valid body for the route (the mutations start from it); absent for routes without one. */
  body?: Record<string, Json>;
  /** The body fields that hold nmap targets: only values refused by validation ever replace them. */
  targetFields?: string[];
  /** Fields whose mutation could turn a refused body into one that runs nmap. */
  frozenFields?: string[];
  /** Streams (SSE): a 200 is read no further. */
  stream?: boolean;
  public?: boolean;
}

const nested = (levels: number): Json => {
  let value: Json = 'bottom';
  for (let i = 0; i < levels; i++) value = i % 2 ? { k: value } : [value];
  return value;
};

// Values that replace a field, or the whole body. None of them is a host name.
const VALUES: Json[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -0,
  '',
  ' ',
  '   \t  ',
  'a\u0000b',
  '\u0000',
  'line\nbreak',
  '\u001b[2J\u001b[H',
  '\u007f\u0085\u009f',
  '\ud800',
  'x\udc00y',
  '😀',
  'x'.repeat(300),
  'y'.repeat(20_000),
  '0x1a',
  '__proto__',
  '{"a":1}',
  '<script>alert(1)</script>',
  "' OR '1'='1",
  '$(id)',
  {},
  { __proto__: null } as unknown as Json,
  { toString: 'x' },
  [],
  [null],
  [1, 2, 3],
  ['a\u0000b'],
  [''],
  [{}],
  [[['deep']]],
  Array.from({ length: 3000 }, () => 'z'),
  nested(20),
  nested(40),
];

// Ids for `{id}`: odd spellings of small ids, out-of-range numbers, and the canonical ones.
const IDS = [
  '2',
  '3',
  '26',
  '999999',
  '0',
  '-1',
  '+1',
  '01',
  '1.0',
  '1e0',
  '0x1',
  '0x10',
  '0b1',
  '0o1',
  ' 1',
  '1%20',
  '%201',
  '1%00',
  '%00',
  '%ZZ',
  '1abc',
  'abc',
  'NaN',
  'Infinity',
  '9007199254740993',
  '99999999999999999999999',
  '١',
  '１',
  '%E0%A4%A',
  '..',
  '%2e%2e',
  encodeURIComponent('a\u0000b'),
  'x'.repeat(2000),
];

// Addresses for `{address}`: IP literals in odd spellings and things that are no address (never resolved).
const ADDRESSES = [
  '127.0.0.1',
  '::1',
  '0:0:0:0:0:0:0:1',
  '127.1',
  '0x7f000001',
  '2130706433',
  '127.0.0.01',
  '127.0.0.1%2500',
  '%3A%3A1',
  'fe80::1%25eth0',
  '::1%25lo',
  'localhost',
  '%00',
  'x'.repeat(300),
  '..',
  '1.2.3.4.5',
  '[::1]',
  '%5B%3A%3A1%5D',
];

// Query values for since (SSE), paging and filters, and anything else that reads the query.
const QUERIES = [
  '',
  '?since=',
  '?since=-1',
  '?since=1e3',
  '?since=0x10',
  '?since=%00',
  '?since=99999999999999999999',
  '?since=1&since=2',
  '?since[]=1',
  '?since[a]=1',
  '?__proto__[x]=1',
  '?constructor=1',
  '?since=5',
  '?page=0',
  '?page=1e2',
  '?page=0x10',
  '?per_page=501',
  '?per_page=-1',
  '?limit=abc',
  '?offset=-5',
  '?page=1&page=2',
  '?is_active=maybe',
  '?is_scheduled=1',
  '?is_active=true&is_active=false',
  '?page=99999999999',
];

// Bodies that are not JSON, sent as application/json.
const RAW_JSON = [
  '{',
  '{"a":',
  '{"a":1,}',
  "{'a':1}",
  '{"a":1}garbage',
  '\ufeff{"a":1}',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":1e99999}',
  '{"a":"\\u0000"}',
  '{"a":"\\ud800"}',
  '{"a":1} {"b":2}',
  '/* c */{}',
  'null',
  '"text"',
  '42',
  'true',
  '[]',
  '{"a":1,"a":2}',
  `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`,
  '\u0000',
  '',
];

const HEADER_SETS: Array<Record<string, string>> = [
  { 'Content-Type': 'text/plain' },
  { 'Content-Type': 'application/x-www-form-urlencoded' },
  { 'Content-Type': 'multipart/form-data; boundary=x' },
  { 'Content-Type': 'application/json; charset=utf-16' },
  { 'Content-Type': 'application/json; charset=latin1' },
  { 'Content-Type': 'application/json; charset=klingon' },
  { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
  { 'Content-Type': 'application/json', 'Content-Encoding': 'deflate' },
  { 'Content-Type': 'application/json', 'Content-Encoding': 'br' },
  { 'Content-Type': 'application/json', 'Content-Encoding': 'compress' },
  { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip, gzip' },
  { 'Content-Type': 'application/json', 'Content-Encoding': 'identity' },
  { 'Content-Type': 'application/xml' },
  { 'Content-Type': '' },
];

const FORM_BODIES = [
  'a=1&a=2',
  '__proto__=x&name=y',
  'name=%00',
  'name[a]=1',
  'name=%E0%A4%A',
  '%%%',
  '=&=&',
];

interface Sent {
  description: string;
  status: number;
  body: string;
  contentType: string;
}

describe('fuzzing every route', () => {
  let gateway: GatewayProcess;
  const failures: string[] = [];
  let sent = 0;

  beforeAll(async () => {
    gateway = await startGatewayProcess({ env: { RATE_LIMIT_ENABLED: 'false' } });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const routes: Route[] = [
    {
      method: 'POST',
      path: '/auth/login',
      public: true,
      body: { username: 'admin', password: 'wrong-Pass-1', remember: true },
    },
    {
      method: 'POST',
      path: '/auth/register',
      public: true,
      body: {
        username: 'fuzzuser',
        email: 'fuzz@example.com',
        password: 'Fuzz-Pass-123',
        confirm_password: 'Fuzz-Pass-123',
        first_name: 'Fuzz',
        last_name: 'User',
      },
    },
    { method: 'GET', path: '/auth/login', public: true },
    { method: 'GET', path: '/api/health', public: true },
    { method: 'GET', path: '/api/docs-json', public: true },
    {
      method: 'POST',
      path: '/api/projects',
      body: { name: 'Fuzz lab', description: 'made by the fuzz test' },
    },
    { method: 'GET', path: '/api/projects' },
    { method: 'POST', path: '/api/tokens', body: { name: 'fuzz' } },
    { method: 'GET', path: '/api/tokens' },
    { method: 'DELETE', path: '/api/tokens/{id}' },
    { method: 'GET', path: '/api/users' },
    {
      method: 'POST',
      path: '/api/scans/start',
      body: {
        project_id: 1,
        nmap_flags: ['-sT', '-Pn', '-n', '-p', '9'],
        targets: ['127.0.0.1'],
        runner: 'asyncio',
        chunk_size: 1,
        concurrency: 1,
      },
      targetFields: ['targets'],
    },
    {
      method: 'POST',
      path: '/api/scans/start/preview',
      body: {
        nmap_flags: ['-sT', '-Pn', '-n', '-p', '9'],
        targets: ['127.0.0.1', 'localhost'],
        chunk_size: 1,
        concurrency: 1,
      },
      targetFields: ['targets'],
    },
    { method: 'GET', path: '/api/me' },
    { method: 'GET', path: '/api/schedule/preview?cron=0+2+*+*+1-5&timezone=Europe/Berlin' },
    { method: 'GET', path: '/api/schedule/preview?interval_minutes=60&count=3' },
    { method: 'GET', path: '/api/results/{id}/batches' },
    { method: 'POST', path: '/api/scans/{id}/stop' },
    { method: 'GET', path: '/api/scans/{id}' },
    { method: 'GET', path: '/api/scans/{id}/events', stream: true },
    {
      method: 'POST',
      path: '/api/nmap/run',
      // -oX is refused by the policy: no mutation below ever makes this body run nmap.
      body: {
        nmap_flags: ['-sT', '-Pn', '-n', '-p', '9', '-oX', '/tmp/nso-fuzz.xml'],
        targets: ['127.0.0.1'],
      },
      targetFields: ['targets'],
      frozenFields: ['nmap_flags'],
    },
    { method: 'GET', path: '/api/scans' },
    {
      method: 'POST',
      path: '/api/scans',
      body: {
        name: 'Fuzz definition',
        description: 'made by the fuzz test',
        target: '127.0.0.1',
        ports: '9',
        scan_arguments: '-sT -Pn -n',
        is_active: true,
        is_scheduled: false,
        chunk_size: 1,
        concurrency: 1,
      },
      targetFields: ['target'],
    },
    {
      method: 'PUT',
      path: '/api/scans/{id}',
      body: { name: 'Renamed', target: '127.0.0.1', ports: '9' },
      targetFields: ['target'],
    },
    { method: 'GET', path: '/api/scans/{id}/execute' },
    { method: 'POST', path: '/api/scans/{id}/toggle' },
    { method: 'DELETE', path: '/api/scans/{id}' },
    { method: 'GET', path: '/api/scans/{id}/results' },
    { method: 'GET', path: '/api/results/{id}' },
    { method: 'GET', path: '/api/hosts/{address}/history' },
    { method: 'GET', path: '/api/hosts/{address}' },
    { method: 'GET', path: '/api/hosts/{address}/ports/tcp/22/history' },
    { method: 'POST', path: '/api/report/{id}/accept', body: { change_ids: [1, 3] } },
    { method: 'POST', path: '/api/scans/{id}/expected/accept-current' },
    { method: 'GET', path: '/api/scans/{id}/exposure' },
    { method: 'GET', path: '/api/scans/{id}/hosts' },
    // Last: it ends the session the other routes use.
    { method: 'GET', path: '/auth/logout', public: true },
  ];

  /** A value to put in `field` of `route`: never a host name, and never one that could make nmap run. */
  function valueFor(route: Route, field: string, pick: <T>(list: T[]) => T): Json {
    const value = pick(VALUES);
    if (route.frozenFields?.includes(field)) {
      // Whatever replaces the refused flags must itself be refused: [] or [""] would be flags nmap accepts.
      return Array.isArray(value) && (value.length === 0 || value[0] === '') ? [null] : value;
    }
    if (route.targetFields?.includes(field)) {
      // Only values validation refuses: empty or blank, control characters, too long, or not strings at all.
      if (typeof value === 'string') return pick(['', '   ', 'a\u0000b', '127.0.0.1\n', 'x'.repeat(9000)]);
      return Array.isArray(value)
        ? pick([[null], ['a\u0000b'], [1], [{}], Array.from({ length: 3000 }, () => 'z')])
        : value;
    }
    return value;
  }

  function mutate(route: Route, random: () => number): string {
    const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
    const body: Record<string, Json> = { ...(route.body ?? {}) };
    const fields = Object.keys(body);
    const extraKeys: string[] = [];
    const steps = 1 + Math.floor(random() * 3);
    for (let step = 0; step < steps; step++) {
      const kind = random();
      if (kind < 0.45 && fields.length > 0) {
        const field = pick(fields);
        body[field] = valueFor(route, field, pick);
      } else if (kind < 0.6 && fields.length > 0) {
        const field = pick(fields);
        if (!route.frozenFields?.includes(field)) delete body[field];
      } else if (kind < 0.75) {
        body[pick(['shell', 'isAdmin', 'role', 'id', 'user_id', 'a\u0000b', ''])] = pick(VALUES);
      } else {
        extraKeys.push(pick(['__proto__', 'constructor', 'prototype']));
      }
    }
    let json = JSON.stringify(body);
    // Reserved keys cannot be set through an object literal; they are written into the JSON text.
    for (const key of extraKeys) json = json.replace(/^\{/, `{"${key}":{"isAdmin":true,"polluted":1},`);
    return json.replace(/,}$/, '}');
  }

  async function send(
    description: string,
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: string | Buffer,
    stream = false,
  ): Promise<Sent | undefined> {
    sent++;
    try {
      const response = await fetch(`${gateway.url}${path}`, {
        method,
        headers,
        body: method === 'GET' ? undefined : body,
        redirect: 'manual',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const contentType = response.headers.get('content-type') ?? '';
      if (stream && response.status === 200 && contentType.startsWith('text/event-stream')) {
        await response.body?.cancel();
        return { description, status: 200, body: '', contentType };
      }
      return { description, status: response.status, body: await response.text(), contentType };
    } catch (error) {
      failures.push(`${description}: no answer (${(error as Error).message})`);
      return undefined;
    }
  }

  function check(answer: Sent | undefined): void {
    if (!answer) return;
    const { description, status, body, contentType } = answer;
    if (status >= 500) {
      failures.push(`${description}: ${status} ${body.slice(0, 300)}`);
      return;
    }
    if (status < 400) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    const shaped =
      contentType.startsWith('application/json') &&
      parsed !== null &&
      typeof parsed === 'object' &&
      !Array.isArray(parsed) &&
      typeof (parsed as { error?: unknown }).error === 'string';
    if (!shaped) failures.push(`${description}: ${status} not in the error shape: ${body.slice(0, 300)}`);
  }

  it(`answers every malformed request with a 4xx in the error shape (seed ${SEED})`, async () => {
    const random = prng(SEED);
    const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
    const started = Date.now();

    for (const route of routes) {
      for (let n = 0; n < CASES_PER_ROUTE; n++) {
        // Mostly the admin's token, so the authenticated routes are reached; otherwise odd credentials.
        const who = random();
        const credentials: Record<string, string> =
          who < 0.6
            ? gateway.auth
            : who < 0.7
              ? gateway.session
              : pick<Record<string, string>>([
                  {},
                  { Authorization: 'Bearer nso_not-a-real-token' },
                  { Authorization: 'Bearer' },
                  { Authorization: 'Basic YWRtaW46YWRtaW4=' },
                  { Authorization: `Bearer ${'t'.repeat(5000)}` },
                  { Cookie: 'nso_session=%00%ff; nso_session=x' },
                  { Cookie: gateway.session.Cookie, Origin: 'https://evil.example' },
                ]);
        const id = pick(IDS);
        const lists = route.method === 'GET' && !route.path.endsWith('}');
        const path =
          route.path.replace('{id}', id).replace('{address}', pick(ADDRESSES)) +
          (route.stream || random() < (lists ? 0.5 : 0.1) ? pick(QUERIES) : '');
        const kind = route.body ? random() : 0.99;
        let headers: Record<string, string> = { ...credentials, 'Content-Type': 'application/json' };
        let body: string | Buffer | undefined;
        let what: string;
        if (kind < 0.5) {
          body = mutate(route, random);
          what = 'mutated body';
        } else if (kind < 0.65) {
          body = pick(RAW_JSON);
          what = 'malformed JSON';
        } else if (kind < 0.75) {
          body = JSON.stringify(pick(VALUES));
          what = 'a bare value as the body';
        } else if (kind < 0.9) {
          headers = { ...credentials, ...pick(HEADER_SETS) };
          if (headers['Content-Encoding'] === 'gzip' && random() < 0.5) {
            body = gzipSync(Buffer.from(random() < 0.5 ? mutate(route, random) : pick(RAW_JSON)));
          } else if (headers['Content-Type'] === 'application/x-www-form-urlencoded') {
            body = pick(FORM_BODIES);
          } else {
            body = mutate(route, random);
          }
          what = `headers ${JSON.stringify(headers).replace(/"Cookie":"[^"]*"|"Authorization":"[^"]*"/g, '')}`;
        } else {
          // No body, or one a body-less route does not expect, plus odd headers.
          body = random() < 0.5 ? undefined : pick(RAW_JSON);
          headers = {
            ...credentials,
            ...(body ? { 'Content-Type': 'application/json' } : {}),
            ...(route.stream ? { 'Last-Event-ID': pick(['', '-1', '0x1', '1e3', '9'.repeat(30), '5']) } : {}),
          };
          what = 'odd headers';
        }
        const description = `[seed ${SEED}] ${route.method} ${path.slice(0, 80)} (${what}) body=${JSON.stringify(
          String(body ?? '').slice(0, 120),
        )}`;
        check(await send(description, route.method, path, headers, body, route.stream));
      }
    }

    // A sweep, so that no odd input depends on the draw: every id and address on every route that takes one,
    // every malformed JSON and every odd content type or encoding on every route that takes a body.
    for (const route of routes) {
      const json = { ...gateway.auth, 'Content-Type': 'application/json' };
      const sweep = (path: string, headers: Record<string, string>, body: string | undefined, what: string) =>
        send(
          `[sweep] ${route.method} ${path.slice(0, 80)} (${what})`,
          route.method,
          path,
          headers,
          body,
          route.stream,
        );
      if (route.path.includes('{id}')) {
        for (const id of IDS)
          check(await sweep(route.path.replace('{id}', id), json, route.body ? '{}' : undefined, 'id'));
      }
      if (route.path.includes('{address}')) {
        for (const address of ADDRESSES)
          check(await sweep(route.path.replace('{address}', address), gateway.auth, undefined, 'address'));
      }
      if (route.body && !route.path.includes('{')) {
        for (const body of RAW_JSON)
          check(await sweep(route.path, json, body, `malformed JSON ${JSON.stringify(body.slice(0, 40))}`));
        for (const headers of HEADER_SETS) {
          check(
            await sweep(
              route.path,
              { ...gateway.auth, ...headers },
              mutate(route, random),
              JSON.stringify(headers),
            ),
          );
        }
      }
    }

    // Methods no route has, and paths that are not routes.
    for (const [method, path] of [
      ['PUT', '/api/projects'],
      ['PATCH', '/api/scans/1'],
      ['DELETE', '/api/projects'],
      ['POST', '/api/health'],
      ['GET', '/api/scans'],
      ['GET', `/api/${'x'.repeat(4000)}`],
      ['GET', '/api/scans/1/events/extra'],
      ['OPTIONS', '/api/projects'],
    ]) {
      check(await send(`[seed ${SEED}] ${method} ${path.slice(0, 60)}`, method, path, gateway.auth, '{}'));
    }

    // A body over the 1 MB limit, on a public and an authenticated route.
    for (const path of ['/auth/login', '/api/projects']) {
      const huge = JSON.stringify({ name: 'n'.repeat(1_200_000) });
      check(
        await send(
          `[seed ${SEED}] POST ${path} (1.2 MB body)`,
          'POST',
          path,
          { ...gateway.auth, 'Content-Type': 'application/json' },
          huge,
        ),
      );
    }

    // Malformed upgrades, with random bytes after the headers.
    const targets = ['//[', '*', '/ws/scans/0x1a', '/ws/scans/1', '/ws/scans/%zz', '/nope', 'http://x/'];
    for (let n = 0; n < 24; n++) {
      const junk = Buffer.from(
        Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)),
      );
      const headers = pick<Record<string, string | null>>([
        {},
        { 'Sec-WebSocket-Key': null },
        { 'Sec-WebSocket-Key': 'short' },
        { 'Sec-WebSocket-Version': '7' },
        { Upgrade: 'websocket, h2c' },
        { ...gateway.auth },
      ]);
      const exchange = await rawExchange(gateway.port, [upgradeRequest(pick(targets), headers), junk], 1_000);
      sent++;
      if (exchange.status !== undefined && exchange.status >= 500) {
        failures.push(`[seed ${SEED}] upgrade ${n}: ${exchange.response.slice(0, 200)}`);
      }
    }

    const elapsed = Date.now() - started;
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(routes.length * CASES_PER_ROUTE);
    expect(elapsed).toBeLessThan(60_000);
    expect(await gateway.healthy()).toBe(true);
    expect(gateway.process.output()).not.toMatch(/Internal server error|uncaught|unhandled/i);
  }, 90_000);
});
