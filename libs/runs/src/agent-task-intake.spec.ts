import { Logger } from '@nestjs/common';
import { AgentResultAddressesError, AgentTaskClosedError, AgentTaskNotFoundError } from './run.errors';
import { newRunService } from './testing/run-fakes';

const upHost = {
  address: '127.0.0.1',
  addressType: 'ipv4',
  hostnames: [],
  state: 'up',
  ports: [22, 80, 443].map((port) => ({ protocol: 'tcp', port, state: port === 443 ? 'closed' : 'open' })),
};

describe('AgentTaskIntake (through RunService)', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  /** A run of 127.0.0.1-2 in one batch, taken by agent a1 as task `t…t` (row 7). */
  async function withTask() {
    const system = newRunService();
    const run = await system.service.startOneOff({
      ownerId: 1,
      projectId: 1,
      name: 'Scan of 127.0.0.1-2',
      targets: ['127.0.0.1-2'],
      nmapFlags: ['-sT', '-p', '22'],
      runner: 'asyncio',
      chunkSize: 2,
      concurrency: 1,
    });
    const ref = { scanId: run.scanId, resultId: run.resultId };
    const { batchId } = await system.service.startBatch({
      resultId: ref.resultId,
      seq: 1,
      targets: ['127.0.0.1', '127.0.0.2'],
      workerId: 'agent:a1',
    });
    system.tasks.rows.push({
      id: 7,
      taskId: 't'.repeat(64),
      clientId: 'a1',
      result: { id: ref.resultId },
      scanId: ref.scanId,
      seq: 1,
      batchId,
      targets: ['127.0.0.1', '127.0.0.2'],
      status: 'running',
      resultsDigest: null,
      finishedAt: null,
    });
    const command = {
      clientId: 'a1',
      resultId: ref.resultId,
      taskId: 't'.repeat(64),
      status: 'completed' as const,
      hosts: [upHost],
      digest: 'd1',
    };
    return { ...system, ref, batchId, command };
  }

  it('stores and counts results for the task; an identical retry is answered, not stored twice', async () => {
    const { service, ref, command, tasks, batches, events, runs } = await withTask();
    await expect(service.agentResults(command)).resolves.toEqual({
      duplicate: false,
      resultId: ref.resultId,
      taskTargets: 2,
    });
    expect(tasks.rows[0]).toMatchObject({ status: 'completed', resultsDigest: 'd1' });
    expect(batches.rows[0]).toMatchObject({
      status: 'completed',
      hostsUp: 1,
      openPorts: 2,
      workerId: 'agent:a1',
    });
    expect(events.namesOf(ref.resultId)).toEqual(['batch_complete:1', 'progress', 'scan_complete']);
    expect(runs.row(ref.resultId).status).toBe('completed');
    await expect(service.agentResults(command)).resolves.toMatchObject({ duplicate: true });
    await expect(service.agentResults({ ...command, digest: 'd2' })).rejects.toBeInstanceOf(
      AgentTaskClosedError,
    );
  });

  it("refuses results of another client's task, and addresses not given to the task, storing nothing", async () => {
    const { service, command, batches } = await withTask();
    await expect(service.agentResults({ ...command, clientId: 'a2' })).rejects.toBeInstanceOf(
      AgentTaskNotFoundError,
    );
    const stray = { ...upHost, address: '127.0.0.9' };
    const refused = service.agentResults({ ...command, hosts: [upHost, stray] });
    await expect(refused).rejects.toBeInstanceOf(AgentResultAddressesError);
    await expect(refused).rejects.toMatchObject({ addresses: ['127.0.0.9'] });
    expect(batches.rows[0].status).toBe('running');
  });

  it('counts the batch failed when the agent reports its task failed', async () => {
    const { service, ref, command, tasks, events } = await withTask();
    await service.agentResults({ ...command, status: 'failed', error: 'nmap not installed', hosts: [] });
    expect(tasks.rows[0].status).toBe('failed');
    expect(events.namesOf(ref.resultId)).toEqual(['batch_failed:1', 'progress', 'scan_failed']);
    expect(events.events[0]).toMatchObject({ error: 'nmap not installed', will_retry: false });
  });

  it('fails a task whose deadline passed without results, once', async () => {
    const { service, ref, tasks, events } = await withTask();
    await service.agentTaskTimedOut(7);
    await service.agentTaskTimedOut(7);
    expect(tasks.rows[0].status).toBe('failed');
    expect(events.namesOf(ref.resultId)).toEqual(['batch_failed:1', 'progress', 'scan_failed']);
    expect(events.events[0]).toMatchObject({
      error: 'agent a1 sent no results within AGENT_TASK_TIMEOUT (1800 s)',
    });
  });

  it('gives the task back to its agent when its results fail to store, so that the retry is taken', async () => {
    const { service, command, batchId, tasks, batches } = await withTask();
    const store = jest
      .spyOn(batches, 'storeResult')
      .mockRejectedValueOnce(new Error('invalid byte sequence'));
    await expect(service.agentResults(command)).rejects.toThrow('invalid byte sequence');
    expect(tasks.rows[0]).toMatchObject({ status: 'running', resultsDigest: null, finishedAt: null });

    store.mockRestore();
    await expect(service.agentResults(command)).resolves.toMatchObject({ duplicate: false });
    expect(tasks.rows[0]).toMatchObject({ status: 'completed', resultsDigest: 'd1' });
    expect(batches.rows.find((r) => r.id === batchId)).toMatchObject({ status: 'completed', hostsUp: 1 });
    // The same results again: answered, not stored twice.
    await expect(service.agentResults(command)).resolves.toMatchObject({ duplicate: true });
  });
});
