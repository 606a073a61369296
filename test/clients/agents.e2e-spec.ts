// HTTP agents (issue 10, point 5) over real HTTP: test agents listening on 127.0.52.x that speak the original
// delta reporter's protocol and run real nmap, one worker pool `local` (covering 127.0.54.0/23 only, so that
// what an agent cannot take has somewhere to go, or not). Only loopback is scanned or contacted.
import { MikroORM } from '@mikro-orm/core';
import { AgentTask, Batch, Client, Host, ScanResult } from '@nso/persistence/testing';
import { TEST_DATABASES } from '../support/database';
import { TestUser } from '../support/gateway';
import { Listener, listenOn } from '../support/listeners';
import { waitUntil } from '../support/nmap-processes';
import { startSystem, TestSystem } from '../support/system';
import { startTestAgent, TestAgent } from '../support/test-agent';
import { openScanSocket } from '../support/ws-client';

describe.each(TEST_DATABASES)('HTTP agents on %s', (database) => {
  let system: TestSystem;
  let agent: TestAgent;
  let listener: Listener;
  let user: TestUser;
  const api = (as?: TestUser) => system.gateway.api(as);
  const em = () => system.gateway.app.get(MikroORM).em.fork();
  const flags = () => ['-sT', '-Pn', '-n', '-p', String(listener.port)];

  beforeAll(async () => {
    system = await startSystem({
      database,
      workers: 0,
      localPool: false,
      env: { AGENT_TASK_TIMEOUT: '4' },
    });
    await system.startWorker('w1', {
      WORKER_CLIENT_ID: 'local',
      WORKER_SCAN_RANGE: '127.0.54.0/23',
      WORKER_AUTO_APPROVE: 'true',
    });
    listener = await listenOn('127.0.53.1');
    agent = await startTestAgent({
      gatewayUrl: system.gateway.url,
      clientId: 'agent-1',
      host: '127.0.52.1',
      scanRange: '127.0.53.0/24',
    });
    user = await system.gateway.newUser('agent-test-user');
  });
  afterAll(async () => {
    await agent?.close();
    await listener?.close();
    await system?.close();
  });

  /** Starts a scan and returns its id. */
  async function startScan(targets: string[]): Promise<number> {
    const started = await api().post('/api/scans/start').send({ targets, nmap_flags: flags() }).expect(200);
    return started.body.scan_id;
  }

  /** The run's events once its terminal event came. */
  async function eventsUntilEnd(scanId: number) {
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    await socket.waitFor((m) => ['scan_complete', 'scan_failed', 'scan_stopped'].includes(String(m.event)));
    socket.close();
    return socket.messages;
  }

  const runOf = (scanId: number) => em().findOneOrFail(ScanResult, { scan: scanId });
  const waitForTask = async (count: number) =>
    waitUntil(() => agent.tasks.length >= count, 15_000, `task ${count} pushed to the agent`);

  it('enrols unapproved and gets no work; approval is for admins only and is pushed to the agent', async () => {
    expect((await agent.heartbeat()).status).toBe(403);
    await api()
      .post('/api/scans/start')
      .send({ targets: ['127.0.53.1'], nmap_flags: flags() })
      .expect(409);
    await api(user).post('/api/clients/agent-1/approve').expect(403, { error: 'Unauthorized' });
    await api().post('/api/clients/agent-1/approve').expect(200);
    await waitUntil(() => agent.pushes.some((p) => p.path === '/approve'), 5_000, 'the approval push');
    expect((await agent.heartbeat()).status).toBe(200);
  });

  it('takes its range: the task is pushed, scanned by the agent, and stored in the same rows as a worker batch', async () => {
    const scanId = await startScan(['127.0.53.1-2', '127.0.54.1']);
    const events = await eventsUntilEnd(scanId);
    expect(events.at(-1)).toMatchObject({ event: 'scan_complete' });

    expect(agent.tasks).toHaveLength(1);
    const [task] = agent.tasks;
    expect(task).toMatchObject({
      scan_id: scanId,
      targets: ['127.0.53.1', '127.0.53.2'],
      ports: String(listener.port),
      scan_arguments: '-sT -Pn -n',
    });
    expect(task.task_id).toMatch(/^[0-9a-f]{64}$/);
    // The run can end before the agent has read the answer to its post: wait for that answer.
    await waitUntil(() => agent.posted.length >= 1, 5_000, "the answer to the agent's post");
    // The summary covers the run so far: the pool's batch may or may not be stored yet.
    expect(agent.posted[0]).toMatchObject({
      status: 200,
      body: {
        message: 'Scan results received successfully',
        result_id: task.result_id,
        summary: { total_targets: 3, failed_targets: 0 },
      },
    });

    const run = await runOf(scanId);
    expect(run).toMatchObject({ status: 'completed', batchesDone: 2, hostsUp: 3, openPorts: 1 });
    const batches = await em().find(Batch, { result: run.id }, { orderBy: { seq: 'asc' } });
    expect(batches.map((b) => [b.workerId, b.targets, b.status])).toEqual([
      ['agent:agent-1', ['127.0.53.1', '127.0.53.2'], 'completed'],
      ['w1', ['127.0.54.1'], 'completed'],
    ]);
    const hosts = await em().find(
      Host,
      { result: run.id },
      { populate: ['ports'], orderBy: { address: 'asc' } },
    );
    expect(hosts.map((h) => h.address)).toEqual(['127.0.53.1', '127.0.53.2', '127.0.54.1']);
    expect(hosts[0].ports.getItems().map((p) => [p.protocol, p.port, p.state])).toEqual([
      ['tcp', listener.port, 'open'],
    ]);

    // Posted twice: answered again, stored once.
    const again = await agent.postResults(await agent.scanTask(task));
    expect(again).toMatchObject({
      status: 200,
      body: {
        message: 'Scan results received successfully',
        summary: {
          total_targets: 3,
          completed_targets: 3,
          failed_targets: 0,
          total_open_ports: 1,
          contributing_clients: 2,
        },
      },
    });
    expect(await em().count(Host, { result: run.id })).toBe(3);

    // Another user does not see the run; the admin sees its hosts. The task_id is shown to admins only.
    await api(user).get(`/api/results/${run.id}`).expect(404);
    const shown = await api().get(`/api/results/${run.id}`).expect(200);
    expect(shown.body.hosts.total).toBe(3);
    const details = await api().get('/api/clients/agent-1').expect(200);
    expect(details.body.recent_tasks[0]).toMatchObject({
      task_id: task.task_id,
      status: 'completed',
      targets: 2,
    });
    // The agent is every user's; the admin's scans are not: another user sees none of their tasks.
    const asUser = await api(user).get('/api/clients/agent-1').expect(200);
    expect(asUser.body.client.client_id).toBe('agent-1');
    expect(asUser.body.recent_tasks).toEqual([]);
  });

  it('refuses results from another address, for another task, and for addresses outside the task', async () => {
    agent.behaviour = 'silent';
    const scanId = await startScan(['127.0.53.10']);
    await waitForTask(2);
    const task = agent.tasks[1];
    const body = await agent.scanTask(task);

    const refusedBefore = (await em().findOneOrFail(Client, { clientId: 'agent-1' })).refusedCount;
    const elsewhere = await agent.postResults(body, '127.0.52.9');
    expect(elsewhere).toMatchObject({ status: 403, body: { error: 'Unauthorized' } });
    expect((await em().findOneOrFail(Client, { clientId: 'agent-1' })).refusedCount).toBe(refusedBefore + 1);

    const otherTask = await agent.postResults({ ...body, task_id: 'f'.repeat(64) });
    expect(otherTask).toMatchObject({ status: 404, body: { error: 'Task not found' } });
    const otherRun = await agent.postResults({ ...body, result_id: task.result_id + 1000 });
    expect(otherRun.status).toBe(404);

    const parsed = body.parsed_results as Record<string, unknown>;
    const outside = await agent.postResults({
      ...body,
      parsed_results: { ...parsed, '127.0.53.99': { state: 'up', open_ports: [], port_details: {} } },
    });
    expect(outside).toMatchObject({
      status: 400,
      body: { error: 'Addresses not in this task: 127.0.53.99', invalid_addresses: ['127.0.53.99'] },
    });
    const run = await runOf(scanId);
    expect(await em().count(Host, { result: run.id })).toBe(0);

    expect((await agent.postResults(body)).status).toBe(200);
    expect((await eventsUntilEnd(scanId)).at(-1)).toMatchObject({ event: 'scan_complete' });
    expect(await em().count(Host, { result: run.id })).toBe(1);
  });

  it('a stop cancels the task at the agent and refuses its late results', async () => {
    const scanId = await startScan(['127.0.53.20']);
    await waitForTask(3);
    const task = agent.tasks[2];
    // An agent reports no progress of its own: its batch is running at 0 % until its results come.
    const live = await api()
      .get(`/api/results/${(await runOf(scanId)).id}`)
      .expect(200);
    expect(live.body.progress.running_batches).toEqual([
      expect.objectContaining({ batch_id: 1, percent: 0, hosts_done: 0, hosts_total: 1 }),
    ]);
    await api().post(`/api/scans/${scanId}/stop`).expect(200);
    await waitUntil(
      () => agent.pushes.some((p) => p.path === `/scan/${scanId}/cancel`),
      5_000,
      'the cancel push',
    );
    const late = await agent.postResults(await agent.scanTask(task));
    expect(late).toMatchObject({ status: 409, body: { task_status: 'cancelled' } });
    expect((await runOf(scanId)).status).toBe('stopped');
  });

  it('a task without results fails after AGENT_TASK_TIMEOUT and the run completes without it', async () => {
    const scanId = await startScan(['127.0.53.30', '127.0.54.30']);
    await waitForTask(4);
    const task = agent.tasks[3];
    const events = await eventsUntilEnd(scanId);
    const failed = events.find((m) => m.event === 'batch_failed');
    expect(String(failed?.error)).toMatch(/sent no results within AGENT_TASK_TIMEOUT \(4 s\)/);
    expect(events.at(-1)).toMatchObject({ event: 'scan_complete' });
    expect(await runOf(scanId)).toMatchObject({ status: 'completed', batchesDone: 1, batchesFailed: 1 });
    expect((await em().findOneOrFail(AgentTask, { taskId: task.task_id })).status).toBe('failed');
    const late = await agent.postResults(await agent.scanTask(task));
    expect(late).toMatchObject({ status: 409, body: { task_status: 'failed' } });
  });

  it('an unreachable agent fails its task at once: its batch goes to a pool that covers it, or is unassigned', async () => {
    const gone = await startTestAgent({
      gatewayUrl: system.gateway.url,
      clientId: 'agent-gone',
      host: '127.0.52.2',
      scanRange: '127.0.55.0/24,127.0.56.0/24',
    });
    await gone.heartbeat();
    await api().post('/api/clients/agent-gone/approve').expect(200);
    await gone.close();

    // 127.0.55.7: the local pool covers it too.
    const covered = await startScan(['127.0.55.7']);
    expect((await eventsUntilEnd(covered)).at(-1)).toMatchObject({ event: 'scan_complete' });
    const run = await runOf(covered);
    const [batch] = await em().find(Batch, { result: run.id });
    expect([batch.workerId, batch.status]).toEqual(['w1', 'completed']);
    const tasks = await em().find(AgentTask, { clientId: 'agent-gone' });
    expect(tasks.map((t) => t.status)).toEqual(['failed']);
    expect(tasks[0].error).toMatch(/could not be reached/);

    // 127.0.56.7: nobody else covers it: the batch fails, its address is unassigned.
    const uncovered = await startScan(['127.0.56.7']);
    const events = await eventsUntilEnd(uncovered);
    expect(events.find((m) => m.event === 'targets_unassigned')).toMatchObject({ targets: ['127.0.56.7'] });
    expect(events.at(-1)).toMatchObject({ event: 'scan_failed' });
    expect((await runOf(uncovered)).unassignedTargets).toEqual(['127.0.56.7']);
  });

  it('revoking an agent fails its open task at once (no other client covers it) and refuses its late results', async () => {
    const scanId = await startScan(['127.0.53.40']);
    await waitForTask(5);
    const task = agent.tasks[4];
    await api().post('/api/clients/agent-1/revoke').expect(200);
    const events = await eventsUntilEnd(scanId);
    expect(String(events.find((m) => m.event === 'batch_failed')?.error)).toMatch(
      /client agent-1 was revoked/,
    );
    const late = await agent.postResults(await agent.scanTask(task));
    expect(late).toMatchObject({ status: 403, body: { error: 'Unauthorized' } });
    await api().post('/api/clients/agent-1/approve').expect(200);
  });

  it("shows a user the recent tasks of their own scans only, an admin every user's", async () => {
    const started = await api(user)
      .post('/api/scans/start')
      .send({ targets: ['127.0.53.50'], nmap_flags: flags() })
      .expect(200);
    const mine: number = started.body.scan_id;
    await waitForTask(6);
    const asUser = await api(user).get('/api/clients/agent-1').expect(200);
    expect(asUser.body.recent_tasks.map((t: { scan_id: number }) => t.scan_id)).toEqual([mine]);
    expect(asUser.body.recent_tasks[0]).not.toHaveProperty('task_id');
    const asAdmin = await api().get('/api/clients/agent-1').expect(200);
    const scans = new Set(asAdmin.body.recent_tasks.map((t: { scan_id: number }) => t.scan_id));
    expect(scans.has(mine)).toBe(true);
    expect(scans.size).toBeGreaterThan(1);
    await api(user).post(`/api/scans/${mine}/stop`).expect(200);
  });
});
