// The original delta reporter's agent, unmodified (../shared/clients/pdr-agent), end to end against real
// gateway, worker and delta processes: enrolment, approval, pushed tasks, results, a delta report, a stop while
// it scans, its failure body, and its shutdown. It listens on 127.0.5.1 and scans 127.0.5.0/28 only.
import { MikroORM } from '@mikro-orm/core';
import { AgentTask, Client, Host, ScanResult } from '@nso/persistence/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentRequest } from '../support/agent-http';
import { Listener, listenOn } from '../support/listeners';
import { waitUntil } from '../support/nmap-processes';
import { PdrAgent, pdrAgentMissing, startPdrAgent } from '../support/pdr-agent';
import { AppProcess, startProcess } from '../support/processes';
import { startSystem, TestSystem } from '../support/system';

const missing = pdrAgentMissing();
if (missing) {
  console.warn(`SKIPPED the original agent's end-to-end test: ${missing}`);
}
const describeWithAgent = missing ? describe.skip : describe;

const CLIENT_ID = 'pdr-e2e-1';
const AGENT_HOST = '127.0.5.1';
/** Where the agent's requests come from: it does not bind them, so the kernel picks 127.0.0.1 for 127.0.0.1. */
const AGENT_SOURCE = '127.0.0.1';

describeWithAgent('the original agent (client_agent.py, unmodified)', () => {
  let system: TestSystem;
  let delta: AppProcess;
  let agent: PdrAgent;
  let steady: Listener;
  let opening: Listener | undefined;
  let openingPort: number;
  let definitionId: number;
  const dir = mkdtempSync(join(tmpdir(), 'nso-pdr-agent-'));
  const api = () => system.gateway.api();
  const em = () => system.gateway.app.get(MikroORM).em.fork();

  beforeAll(async () => {
    system = await startSystem({ workers: 0, localPool: false, env: { AGENT_TASK_TIMEOUT: '600' } });
    // A pool for nothing the agent covers: it runs the task deadlines and pushes (every worker does).
    await system.startWorker('w1', {
      WORKER_CLIENT_ID: 'local',
      WORKER_SCAN_RANGE: '127.0.54.0/24',
      WORKER_AUTO_APPROVE: 'true',
    });
    delta = startProcess('delta', { ...system.env, WORKER_ID: `delta-${Date.now()}` });
    await delta.waitForOutput(/delta service ready/);
    steady = await listenOn('127.0.5.3');
    const probe = await listenOn('127.0.5.4');
    openingPort = probe.port;
    await probe.close();
    agent = await startPdrAgent({
      gatewayUrl: system.gateway.url,
      clientId: CLIENT_ID,
      host: AGENT_HOST,
      scanRange: '127.0.5.0/28',
      logFile: join(dir, 'agent.log'),
    });
  }, 600_000);

  afterAll(async () => {
    await agent?.stop(5_000);
    await steady?.close();
    await opening?.close();
    await delta?.stop('SIGKILL');
    await system?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const runOf = async (resultId: number) => (await api().get(`/api/results/${resultId}`).expect(200)).body;
  const waitForRun = async (resultId: number, statuses: string[], ms = 120_000) => {
    await waitUntil(
      async () => statuses.includes((await runOf(resultId)).result.status),
      ms,
      `run ${resultId} to end ${statuses.join(' or ')} (agent log:\n${agent.log().slice(-3000)})`,
    );
    return runOf(resultId);
  };
  const openTask = async (resultId: number) => {
    await waitUntil(
      async () => (await em().count(AgentTask, { result: resultId, status: 'running' })) > 0,
      30_000,
      `a running task of run ${resultId}`,
    );
    return em().findOneOrFail(AgentTask, { result: resultId });
  };
  const define = async (name: string, target: string, ports: string, args = '-sT -Pn -n', chunkSize = 256) =>
    (
      await api()
        .post('/api/scans')
        .send({ verify_changes: false, name, target, ports, scan_arguments: args, chunk_size: chunkSize })
        .expect(201)
    ).body.scan.id as number;

  it('enrols by heartbeat, awaits approval, and is approved by an admin (its /health says so)', async () => {
    await waitUntil(
      async () => (await api().get(`/api/clients/${CLIENT_ID}`)).status === 200,
      30_000,
      'the first heartbeat',
    );
    const enrolled = await api().get(`/api/clients/${CLIENT_ID}`).expect(200);
    expect(enrolled.body.client).toMatchObject({
      client_id: CLIENT_ID,
      kind: 'agent',
      ip_address: AGENT_HOST,
      port: agent.port,
      scan_range: '127.0.5.0/28',
      is_approved: false,
      source_ip: AGENT_SOURCE,
    });
    expect(enrolled.body.client.capabilities).toMatchObject({ supported_scan_types: ['tcp', 'udp', 'syn'] });
    expect(agent.log()).toMatch(/awaiting approval/);
    expect((await agent.health()).approved).toBe(false);

    await api().post(`/api/clients/${CLIENT_ID}/approve`).expect(200);
    await waitUntil(
      async () => (await agent.health()).approved,
      30_000,
      "the agent's /health to say approved",
    );
  });

  it('scans a definition over a /28 of its range: results stored, run completed, then a delta report', async () => {
    // Two tasks of 8 addresses: the agent takes one scan_id at a time (409 to the second push while it scans the
    // first), so the second is pushed again once it is free.
    definitionId = await define('pdr lab', '127.0.5.0/28', `${steady.port},${openingPort}`, '-sT -Pn -n', 8);
    const first = await api().get(`/api/scans/${definitionId}/execute`).expect(200);
    expect(first.body).toMatchObject({ clients_triggered: 1, unassigned_targets: [] });
    const run = await waitForRun(first.body.result_id, ['completed', 'partial', 'failed']);
    expect(run.result).toMatchObject({ status: 'completed', batches_failed: 0, hosts_up: 16, open_ports: 1 });
    expect(run.summary).toMatchObject({
      total_targets: 16,
      completed_targets: 16,
      failed_targets: 0,
      total_open_ports: 1,
      contributing_clients: 1,
      contributing_client_ids: [CLIENT_ID],
      hosts_up: 16,
    });
    const hosts = await em().find(
      Host,
      { result: first.body.result_id, ports: { state: 'open' } },
      { populate: ['ports'] },
    );
    expect(
      hosts.map((h) => [
        h.address,
        h.ports
          .getItems()
          .filter((p) => p.state === 'open')
          .map((p) => p.port),
      ]),
    ).toEqual([['127.0.5.3', [steady.port]]]);
    expect(agent.log()).toMatch(/Successfully sent results for scan/);
    const tasks = await em().find(AgentTask, { result: first.body.result_id }, { orderBy: { seq: 'asc' } });
    expect(tasks.map((t) => [t.seq, t.targets.length, t.status])).toEqual([
      [1, 8, 'completed'],
      [2, 8, 'completed'],
    ]);

    opening = await listenOn('127.0.5.4', openingPort);
    const second = await api().get(`/api/scans/${definitionId}/execute`).expect(200);
    expect((await waitForRun(second.body.result_id, ['completed', 'partial', 'failed'])).result.status).toBe(
      'completed',
    );
    await waitUntil(
      async () => (await api().get(`/api/scan/${definitionId}/reports`).expect(200)).body.total === 1,
      60_000,
      'the delta report',
    );
    const [report] = (await api().get(`/api/scan/${definitionId}/reports`).expect(200)).body.reports;
    expect(report).toMatchObject({
      baseline_result_id: first.body.result_id,
      current_result_id: second.body.result_id,
      new_ports_count: 1,
      closed_ports_count: 0,
      has_changes: true,
    });
  });

  it('a stop while it scans tells it to cancel; what it posts afterwards is refused without harm', async () => {
    // 2 addresses × 300 ports at 20 probes a second: the agent is still scanning when the stop comes.
    const slow = await define('pdr slow', '127.0.5.8/31', '1-300', '-sT -Pn -n --max-rate 20');
    const executed = await api().get(`/api/scans/${slow}/execute`).expect(200);
    const resultId = executed.body.result_id as number;
    await openTask(resultId);
    await waitUntil(async () => (await agent.health()).active_scans > 0, 10_000, 'the agent to scan');
    await api().post(`/api/scans/${slow}/stop`).expect(200);
    expect((await runOf(resultId)).result.status).toBe('stopped');
    expect((await em().findOneOrFail(AgentTask, { result: resultId })).status).toBe('cancelled');
    // python-nmap cannot stop a running scan: the agent finishes, posts, and is refused with the task's state.
    await waitUntil(
      () => /Server returned status 409: .*Task is cancelled/.test(agent.log()),
      120_000,
      "the agent's late post to be refused",
    );
    expect(await em().count(Host, { result: resultId })).toBe(0);
    expect((await runOf(resultId)).result.status).toBe('stopped');
  });

  it('its failure body fails the task at once with its error_message', async () => {
    const slow = await define('pdr failing', '127.0.5.12/31', '1-300', '-sT -Pn -n --max-rate 20');
    const executed = await api().get(`/api/scans/${slow}/execute`).expect(200);
    const resultId = executed.body.result_id as number;
    const task = await openTask(resultId);
    // What perform_scan sends when nmap raises, from the agent's address, for its open task.
    const failure = await agentRequest(
      system.gateway.url,
      'POST',
      `/api/clients/${CLIENT_ID}/results`,
      {
        scan_id: task.scanId,
        task_id: task.taskId,
        result_id: resultId,
        client_id: CLIENT_ID,
        status: 'failed',
        scan_duration: 0.25,
        parsed_results: {},
        summary_stats: {
          total_targets: 2,
          scanned_targets: 0,
          targets_up: 0,
          targets_down: 0,
          error_targets: 2,
          total_open_ports: 0,
        },
        error_message: 'nmap program was not found in path. PATH is : /usr/bin',
        timestamp: new Date().toISOString().replace('Z', '+00:00'),
      },
      { from: AGENT_SOURCE },
    );
    expect(failure).toMatchObject({ status: 200, body: { message: 'Scan results received successfully' } });
    const run = await waitForRun(resultId, ['failed', 'partial', 'completed'], 15_000);
    expect(run.result.status).toBe('failed');
    expect(await em().findOneOrFail(AgentTask, { result: resultId })).toMatchObject({
      status: 'failed',
      error: 'nmap program was not found in path. PATH is : /usr/bin',
    });
    // Its own results come later and are refused: the task failed.
    await waitUntil(
      () => /Server returned status 409: .*Task is failed/.test(agent.log()),
      120_000,
      "the agent's own post to be refused",
    );
    expect(await em().count(Host, { result: resultId })).toBe(0);
  });

  it('on SIGINT it sends PUT {"status": "offline"} and is offline', async () => {
    await waitUntil(async () => (await agent.health()).active_scans === 0, 120_000, 'the agent to be idle');
    await agent.stop(60_000);
    expect(agent.log()).toMatch(/Client marked as offline/);
    const shown = await api().get(`/api/clients/${CLIENT_ID}`).expect(200);
    expect(shown.body.client).toMatchObject({ status: 'offline', is_approved: true });
    const row = await em().findOneOrFail(Client, { clientId: CLIENT_ID });
    expect(row.status).toBe('offline');
    expect(await em().count(ScanResult, {})).toBeGreaterThanOrEqual(4);
  });
});
