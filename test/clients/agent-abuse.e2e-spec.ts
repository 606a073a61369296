// The agent routes cannot be abused (issue 16, point 4), each fault reproduced on a loopback system: anonymous
// bodies refused before they are read, bounded and linear results, text both databases store alike, scan starts
// that never wait on an agent, pool ids that cannot be squatted, tasks handed on when an agent is disabled or
// moves, and enrolment counted per new client. Agents listen on 127.0.58.x; only loopback is scanned or contacted.
import { MikroORM } from '@mikro-orm/core';
import { Metrics } from '@nso/monitoring';
import { AgentTask, Batch, Client, Host, Port } from '@nso/persistence/testing';
import { request as httpRequest } from 'node:http';
import { createServer, Server, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { agentRequest, AgentAnswer } from '../support/agent-http';
import { TEST_DATABASES } from '../support/database';
import { waitUntil } from '../support/nmap-processes';
import { startSystem, TestSystem } from '../support/system';
import { PushedTask, startTestAgent, TestAgent } from '../support/test-agent';

/** A POST with raw bytes and chosen headers, from a chosen loopback address; `declared` overrides Content-Length. */
function rawPost(
  baseUrl: string,
  path: string,
  body: Buffer,
  options: { from?: string; headers?: Record<string, string>; send?: Buffer } = {},
): Promise<AgentAnswer & { ms: number }> {
  const url = new URL(path, baseUrl);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        method: 'POST',
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        localAddress: options.from ?? '127.0.0.1',
        headers: { 'content-type': 'application/json', 'content-length': body.length, ...options.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: parsed,
            ms: Date.now() - started,
          });
          req.destroy();
        });
      },
    );
    req.on('error', reject);
    // `send`: only part of the declared body, and the rest never: the answer must come without it.
    req.write(options.send ?? body);
    if (!options.send) req.end();
  });
}

describe.each(TEST_DATABASES)('agent routes under abuse on %s', (database) => {
  let system: TestSystem;
  let agent: TestAgent;
  const hung: { server?: Server; sockets: Socket[] } = { sockets: [] };
  const api = () => system.gateway.api();
  const em = () => system.gateway.app.get(MikroORM).em.fork();
  const post = (body: unknown, from = agent.host) => agent.postResults(body, from);

  beforeAll(async () => {
    system = await startSystem({
      database,
      workers: 0,
      localPool: false,
      env: {
        AGENT_TASK_TIMEOUT: '120',
        AGENT_PUSH_TIMEOUT_MS: '3000',
        AGENT_TASK_TARGETS: '1',
        CLIENT_ENROL_LIMIT: '5',
      },
    });
    // The pool covers 127.0.57.0/24; the agent the more specific 127.0.57.0/25, which it therefore gets.
    await system.startWorker('w1', {
      WORKER_CLIENT_ID: 'local',
      WORKER_SCAN_RANGE: '127.0.57.0/24',
      WORKER_AUTO_APPROVE: 'true',
    });
    agent = await startTestAgent({
      gatewayUrl: system.gateway.url,
      clientId: 'abuse-1',
      host: '127.0.58.1',
      scanRange: '127.0.57.0/25,127.0.59.0/24',
      behaviour: 'silent',
    });
    expect((await agent.heartbeat()).status).toBe(403);
    await api().post('/api/clients/abuse-1/approve').expect(200);
  });
  afterAll(async () => {
    await agent?.close();
    for (const socket of hung.sockets) socket.destroy();
    await new Promise((resolve) => (hung.server ? hung.server.close(resolve) : resolve(undefined)));
    await system?.close();
  });

  /** Starts a scan of `targets` and waits for its first task at the agent. */
  async function taskFor(target: string): Promise<{ scanId: number; task: PushedTask }> {
    const before = agent.tasks.length;
    const started = await api()
      .post('/api/scans/start')
      .send({ targets: [target], nmap_flags: ['-sT', '-Pn', '-n', '-p', '22'] })
      .expect(200);
    await waitUntil(() => agent.tasks.length > before, 15_000, `a task for ${target}`);
    return { scanId: started.body.scan_id, task: agent.tasks[agent.tasks.length - 1] };
  }
  const body = (task: PushedTask, parsed: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    result_id: task.result_id,
    task_id: task.task_id,
    status: 'completed',
    parsed_results: parsed,
    ...extra,
  });
  const runStatus = async (scanId: number) =>
    (await api().get(`/api/scans/${scanId}/results`).expect(200)).body.results[0].status as string;

  it('answers an anonymous results post before reading its body: unknown client, no open task', async () => {
    // 64 MiB declared, 1 KiB sent: the answer comes without the rest, and the connection is closed.
    const declared = { 'content-length': String(64 * 1024 * 1024) };
    const unknown = await rawPost(system.gateway.url, '/api/clients/nobody-1/results', Buffer.alloc(0), {
      headers: declared,
      send: Buffer.from('{"parsed_results": {' + ' '.repeat(1024)),
    });
    expect(unknown).toMatchObject({ status: 404, body: { error: 'Client not found' } });
    expect(unknown.headers.connection).toBe('close');

    const idle = await rawPost(system.gateway.url, '/api/clients/abuse-1/results', Buffer.alloc(0), {
      from: agent.host,
      headers: declared,
      send: Buffer.from('{'),
    });
    expect(idle).toMatchObject({
      status: 409,
      body: { error: 'This client has no task waiting for results', client_id: 'abuse-1' },
    });
    // From another address: refused (and recorded) before the body too.
    const elsewhere = await rawPost(system.gateway.url, '/api/clients/abuse-1/results', Buffer.alloc(0), {
      from: '127.0.58.99',
      headers: declared,
      send: Buffer.from('{'),
    });
    expect(elsewhere.status).toBe(403);
  });

  it("bounds the body by the task's addresses, and compressed bodies by their ratio", async () => {
    const { scanId, task } = await taskFor('127.0.59.1');
    // One address: 64 KiB + 64 KiB.
    const limit = 128 * 1024;
    const large = Buffer.from(JSON.stringify(body(task, {}, { padding: 'x'.repeat(limit) })));
    const refused = await rawPost(system.gateway.url, '/api/clients/abuse-1/results', large, {
      from: agent.host,
    });
    expect(refused).toMatchObject({ status: 413, body: { limit } });

    // 1 MiB of spaces in 1 KiB of gzip: refused by its ratio while inflating, before the size limit is reached.
    const bomb = gzipSync(Buffer.from(`{"result_id": ${task.result_id}, ${' '.repeat(1024 * 1024)}}`));
    const inflated = await rawPost(system.gateway.url, '/api/clients/abuse-1/results', bomb, {
      from: agent.host,
      headers: { 'content-encoding': 'gzip' },
    });
    expect(inflated).toMatchObject({
      status: 413,
      body: { error: expect.stringMatching(/decompresses more than 100 times/) },
    });

    // An honest gzip body is read.
    const honest = gzipSync(
      Buffer.from(
        JSON.stringify(body(task, { '127.0.59.1': { state: 'up', open_ports: [], port_details: {} } })),
      ),
    );
    const taken = await rawPost(system.gateway.url, '/api/clients/abuse-1/results', honest, {
      from: agent.host,
      headers: { 'content-encoding': 'gzip' },
    });
    expect(taken).toMatchObject({ status: 200, body: { message: 'Scan results received successfully' } });
    await waitUntil(async () => (await runStatus(scanId)) === 'completed', 10_000, 'the run to complete');
  });

  it('stores text both databases can hold (control characters stripped), and refuses a NUL in error_message', async () => {
    const { scanId, task } = await taskFor('127.0.59.2');
    const nul = await post(body(task, {}, { status: 'failed', error_message: 'nmap\u0000 died' }));
    expect(nul).toMatchObject({
      status: 400,
      body: { error: 'error_message must not contain control characters' },
    });
    const stored = await post(
      body(task, {
        '127.0.59.2': {
          hostname: 'lab\u0000-2',
          state: 'up',
          open_ports: [22],
          port_details: {
            '22': { protocol: 'tcp', state: 'open', name: 'ssh', product: 'Open\u0000SSH\u001b[2J' },
          },
        },
      }),
    );
    expect(stored.status).toBe(200);
    await waitUntil(async () => (await runStatus(scanId)) === 'completed', 10_000, 'the run to complete');
    const [host] = await em().find(Host, { result: task.result_id }, { populate: ['ports'] });
    expect(host.hostnames).toEqual([{ name: 'lab-2', type: 'PTR' }]);
    expect(host.ports.getItems().map((p: Port) => [p.port, p.product])).toEqual([[22, 'OpenSSH[2J']]);
    expect((await em().findOneOrFail(AgentTask, { taskId: task.task_id })).status).toBe('completed');
  });

  it('takes canonical decimal ports and nmap states only, names a bounded sample, and digests regardless of key order', async () => {
    const { task } = await taskFor('127.0.59.3');
    for (const key of [' 22', '22.0', '+23', '1e1', '0x16']) {
      const refused = await post(body(task, { '127.0.59.3': { state: 'up', port_details: { [key]: {} } } }));
      expect(refused).toMatchObject({ status: 400, body: { problem_count: 1 } });
      expect(JSON.stringify(refused.body)).toContain('is not a port number');
    }
    const otherScan = await post(body(task, {}, { scan_id: task.scan_id + 1000 }));
    expect(otherScan).toMatchObject({
      status: 400,
      body: { error: 'scan_id is not the scan of this task', field: 'scan_id' },
    });
    const otherClient = await post(body(task, {}, { client_id: 'someone-else' }));
    expect(otherClient).toMatchObject({
      status: 400,
      body: { error: "client_id in the body does not match the URL's client_id" },
    });
    const state = await post(body(task, { '127.0.59.3': { state: 'pwned' } }));
    expect(state).toMatchObject({
      status: 400,
      body: { problems: [expect.stringMatching(/nmap's host states/)] },
    });

    const outside = Object.fromEntries(
      Array.from({ length: 2000 }, (_, i) => [`127.1.${Math.floor(i / 250)}.${i % 250}`, {}]),
    );
    const many = await post(body(task, { ...outside, '127.0.59.3': { state: 'up' } }));
    expect(many).toMatchObject({ status: 400, body: { invalid_address_count: 2000 } });
    expect((many.body as { invalid_addresses: string[] }).invalid_addresses).toHaveLength(20);
    expect(JSON.stringify(many.body).length).toBeLessThan(2000);

    const first = body(task, {
      '127.0.59.3': { state: 'up', hostname: 'h', open_ports: [22], port_details: { '22': { name: 'ssh' } } },
    });
    expect((await post({ ...first, timestamp: '2026-12-06T21:00:00+00:00' })).status).toBe(200);
    // The same results, keys in another order and another timestamp: answered again, not a conflict.
    const reordered = {
      parsed_results: {
        '127.0.59.3': {
          port_details: { '22': { name: 'ssh' } },
          open_ports: [22],
          hostname: 'h',
          state: 'up',
        },
      },
      status: 'completed',
      task_id: task.task_id,
      result_id: task.result_id,
      timestamp: '2026-12-06T21:00:07+00:00',
    };
    expect((await post(reordered)).status).toBe(200);
    const different = await post(body(task, { '127.0.59.3': { state: 'down' } }));
    expect(different).toMatchObject({ status: 409, body: { task_status: 'completed' } });
  });

  it('ignores (and counts) top-level fields it does not know on agent routes; admins still get a 400', async () => {
    const metric = () =>
      system.gateway.app.get(Metrics).registry.getSingleMetric('nso_agent_fields_ignored_total')!.get();
    const count = async (route: string) =>
      (await metric()).values.find((v) => v.labels.route === route)?.value ?? 0;
    const before = await count('heartbeat');
    const answer = await agent.heartbeat({ agent_version: '2.0', os_family: 'linux' });
    expect(answer.status).toBe(200);
    expect(await count('heartbeat')).toBe(before + 2);
    const admin = await api().put('/api/clients/abuse-1').send({ hostname: 'x', colour: 'red' }).expect(400);
    expect(admin.body).toMatchObject({ unknown_fields: ['colour'] });
  });

  it('refuses a scan_range with an empty entry and an ip_address with an IPv6 zone, naming the field', async () => {
    const trailing = await agent.heartbeat({ scan_range: '127.0.57.0/25,' });
    expect(trailing).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^scan_range has an empty entry/) },
    });
    const zoned = await agent.heartbeat({ ip_address: 'fe80::1%lo' });
    expect(zoned).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^ip_address must be/) },
    });
  });

  it('never makes a scan start wait on an agent: a hung agent fails its tasks in the background', async () => {
    hung.server = createServer((socket) => {
      hung.sockets.push(socket); // accepted, never answered
    });
    await new Promise<void>((resolve) => hung.server!.listen(0, '127.0.58.2', resolve));
    const port = (hung.server.address() as { port: number }).port;
    const heartbeat = {
      client_id: 'hung-1',
      hostname: 'hung',
      ip_address: '127.0.58.2',
      port,
      scan_range: '127.0.61.0/24',
    };
    await agentRequest(system.gateway.url, 'POST', '/api/clients/hung-1/heartbeat', heartbeat, {
      from: '127.0.58.2',
    });
    await api().post('/api/clients/hung-1/approve').expect(200);
    const started = Date.now();
    const start = await api()
      .post('/api/scans/start')
      .send({ targets: ['127.0.61.0/29'], nmap_flags: ['-sT', '-Pn', '-n', '-p', '22'], concurrency: 8 })
      .expect(200);
    const answeredIn = Date.now() - started;
    // Eight pushes of AGENT_PUSH_TIMEOUT_MS (3 s) each would be 24 s inside the request.
    expect(answeredIn).toBeLessThan(2_000);
    await waitUntil(
      async () => (await runStatus(start.body.scan_id)) === 'failed',
      60_000,
      'the run to fail',
    );
    const tasks = await em().find(AgentTask, { clientId: 'hung-1' });
    expect(tasks).toHaveLength(8);
    expect(tasks.every((t) => t.status === 'failed' && /could not be reached/.test(t.error ?? ''))).toBe(
      true,
    );
  });

  it('disabling or moving an agent hands its open tasks on at once', async () => {
    const disabled = await taskFor('127.0.57.5');
    await api().post('/api/clients/abuse-1/toggle').expect(200);
    // The pool covers 127.0.57.0/24 too: the batch runs there.
    await waitUntil(
      async () => (await runStatus(disabled.scanId)) === 'completed',
      30_000,
      'the run to complete',
    );
    expect((await em().findOneOrFail(AgentTask, { taskId: disabled.task.task_id })).error).toBe(
      'client abuse-1 was disabled',
    );
    expect((await em().findOneOrFail(Batch, { result: disabled.task.result_id })).workerId).toBe('w1');
    await api().post('/api/clients/abuse-1/toggle').expect(200);

    const moved = await taskFor('127.0.57.6');
    // The agent says it now listens elsewhere: its approval goes, and so do its open tasks.
    expect((await agent.heartbeat({ port: agent.port + 1 })).status).toBe(403);
    await waitUntil(
      async () => (await runStatus(moved.scanId)) === 'completed',
      30_000,
      'the run to complete',
    );
    expect((await em().findOneOrFail(AgentTask, { taskId: moved.task.task_id })).error).toMatch(
      /must be approved again/,
    );
    expect((await agent.heartbeat()).status).toBe(403);
    await api().post('/api/clients/abuse-1/approve').expect(200);
  });

  it('counts a new client once however many first heartbeats it sends at once (CLIENT_ENROL_LIMIT 5)', async () => {
    const beat = (id: string) =>
      agentRequest(
        system.gateway.url,
        'POST',
        `/api/clients/${id}/heartbeat`,
        { hostname: 'burst', ip_address: '127.0.62.1', port: 8080, scan_range: '127.0.62.0/24' },
        { from: '127.0.62.1' },
      );
    const burst = await Promise.all(Array.from({ length: 20 }, () => beat('burst-1')));
    expect(burst.map((a) => a.status)).toEqual(Array(20).fill(403));
    for (const id of ['burst-2', 'burst-3', 'burst-4', 'burst-5']) expect((await beat(id)).status).toBe(403);
    expect(await beat('burst-6')).toMatchObject({
      status: 429,
      body: { error: 'Too many new clients from this address' },
    });
    expect(await em().count(Client, { clientId: 'burst-6' })).toBe(0);
  });

  it("lets a worker pool take an unapproved agent's id, and admins delete a client (its history stays)", async () => {
    await agentRequest(
      system.gateway.url,
      'POST',
      '/api/clients/branch-x/heartbeat',
      { hostname: 'squatter', ip_address: '127.0.58.5', port: 8080, scan_range: '127.0.63.0/24' },
      { from: '127.0.58.5' },
    );
    const pool = await system.startWorker('w2', {
      WORKER_CLIENT_ID: 'branch-x',
      WORKER_SCAN_RANGE: '127.0.63.0/24',
      WORKER_AUTO_APPROVE: 'true',
    });
    await pool.waitForOutput(/this pool took it over, approved/);
    const shown = await api().get('/api/clients/branch-x').expect(200);
    expect(shown.body.client).toMatchObject({
      kind: 'pool',
      is_approved: true,
      ip_address: null,
      port: null,
    });
    await pool.stop('SIGKILL');

    const user = await system.gateway.newUser(`deleter-${database}`);
    await system.gateway.api(user).delete('/api/clients/abuse-1').expect(403);
    const tasks = await em().count(AgentTask, { clientId: 'abuse-1' });
    expect(await api().delete('/api/clients/abuse-1').expect(200)).toMatchObject({
      body: { status: 'success', message: 'Client deleted successfully', client_id: 'abuse-1' },
    });
    await api().get('/api/clients/abuse-1').expect(404);
    expect(await em().count(AgentTask, { clientId: 'abuse-1' })).toBe(tasks);
    expect(await em().count(Host, { batch: { workerId: 'agent:abuse-1' } })).toBeGreaterThan(0);
  });
});
