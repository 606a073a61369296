import { Logger } from '@nestjs/common';
import type { StartOneOffCommand } from './run-commands';
import { newRunService } from './testing/run-fakes';

/** 127.0.0.1-2 in one batch. */
const oneOff: StartOneOffCommand = {
  ownerId: 1,
  projectId: 1,
  name: 'Scan of 127.0.0.1-2',
  targets: ['127.0.0.1-2'],
  nmapFlags: ['-sT', '-p', '22'],
  runner: 'asyncio',
  chunkSize: 2,
  concurrency: 1,
};

describe('BatchHandoff (through RunService.clientRevoked)', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  /** A run whose one batch went to agent-a (the most specific range), with its task open. */
  async function agentRun(others: Array<{ clientId: string; kind: 'pool' | 'agent'; scanRange: string[] }>) {
    const system = newRunService();
    system.clients.delegable = [
      { clientId: 'agent-a', kind: 'agent', scanRange: ['127.0.0.0/30'] },
      ...others,
    ];
    const run = await system.service.startOneOff(oneOff);
    system.tasks.rows.push({
      id: 1,
      taskId: 'a'.repeat(64),
      clientId: 'agent-a',
      result: { id: run.resultId },
      scanId: run.scanId,
      seq: 1,
      batchId: null,
      targets: ['127.0.0.1', '127.0.0.2'],
      status: 'running',
      resultsDigest: null,
      finishedAt: null,
    });
    return { ...system, run };
  }

  it("fails a revoked agent's open task and moves its batch to a pool that covers it", async () => {
    const { service, run, tasks, queue, events } = await agentRun([
      { clientId: 'site-b', kind: 'pool', scanRange: ['127.0.0.0/24'] },
    ]);
    await service.clientRevoked('agent-a');
    expect(tasks.rows[0]).toMatchObject({ status: 'failed' });
    expect(queue.moved).toEqual([{ resultId: run.resultId, seq: 1, clientId: 'site-b' }]);
    expect(events.namesOf(run.resultId)).toEqual([]);
  });

  it('fails the batch when no other client covers it: unassigned, announced, counted, and the run ends', async () => {
    const { service, run, runs, batches, queue, events } = await agentRun([]);
    await service.clientRevoked('agent-a', 'client agent-a was disabled');
    expect(queue.moved).toEqual([]);
    expect(runs.row(run.resultId)).toMatchObject({
      status: 'failed',
      unassignedTargets: ['127.0.0.1', '127.0.0.2'],
    });
    expect(batches.rows).toEqual([expect.objectContaining({ seq: 1, status: 'failed', workerId: 'server' })]);
    expect(events.namesOf(run.resultId)).toEqual([
      'targets_unassigned',
      'batch_failed:1',
      'progress',
      'scan_failed',
    ]);
    expect(events.events[1]).toMatchObject({
      error: 'client agent-a was disabled; no other approved, online client covers its targets',
      will_retry: false,
    });
  });

  it("withdraws a revoked pool's waiting batches and moves them; a batch a worker took runs there", async () => {
    const system = newRunService();
    system.clients.delegable = [
      { clientId: 'site-a', kind: 'pool', scanRange: ['127.0.0.0/30'] },
      { clientId: 'site-b', kind: 'pool', scanRange: ['127.0.0.0/24'] },
    ];
    const run = await system.service.startOneOff({ ...oneOff, chunkSize: 1, concurrency: 2 });
    const job = (batchSeq: number) => ({ ...run, batchSeq, targets: [`127.0.0.${batchSeq}`] });
    const [waiting, taken] = [job(1), job(2)];
    system.poolQueues.waiting.set('site-a', [waiting, taken]);
    system.poolQueues.taken.add(taken);
    await system.service.clientRevoked('site-a');
    expect(system.queue.moved).toEqual([{ resultId: run.resultId, seq: 1, clientId: 'site-b' }]);
    expect(system.poolQueues.waiting.get('site-a')).toEqual([taken]);
  });

  it('hands on nothing of a run that has ended', async () => {
    const { service, run, queue, events } = await agentRun([
      { clientId: 'site-b', kind: 'pool', scanRange: ['127.0.0.0/24'] },
    ]);
    await service.stop(run.scanId);
    await service.clientRevoked('agent-a');
    expect(queue.moved).toEqual([]);
    expect(events.namesOf(run.resultId)).toEqual(['scan_stopped']);
  });
});
