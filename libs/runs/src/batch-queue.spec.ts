import type { BatchSplitRepository } from '@nso/persistence';
import type { AppConfig } from '@nso/config';
import type { BatchJobData } from '@nso/contracts';
import { BatchQueue, RunPlan, runPlanOf } from './batch-queue';
import { AgentTasks } from './agent-tasks';
import { ClientBatchQueues } from './client-batch-queues';
import { RunStateStore } from './run-state.store';

/** The pools' queues, recording what each was given (addBulk is the only call enqueue makes). */
function recordingQueue(): {
  queue: ClientBatchQueues;
  jobs: Array<{ client: string; data: BatchJobData; opts: { jobId?: string } }>;
} {
  const jobs: Array<{ client: string; data: BatchJobData; opts: { jobId?: string } }> = [];
  const queue = {
    queue: (client: string) => ({
      addBulk: async (bulk: Array<{ data: BatchJobData; opts: { jobId?: string } }>) => {
        jobs.push(...bulk.map((job) => ({ client, ...job })));
        return [];
      },
    }),
  } as unknown as ClientBatchQueues;
  return { queue, jobs };
}

const config = { batchAttempts: 3, jobRetentionCount: 100 } as AppConfig;

/** Batches pushed to agents, as AgentTasks.dispatch is given them. */
const pushed: Array<{ seq: number; clientId: string; targets: string[] }> = [];
const agents = {
  dispatch: async (_run: unknown, seq: number, clientId: string, targets: string[]) => {
    pushed.push({ seq, clientId, targets });
    return undefined;
  },
} as unknown as AgentTasks;
const state = { movedTo: async () => undefined } as unknown as RunStateStore;
const newBatchQueue = (queue: ClientBatchQueues) =>
  new BatchQueue(queue, config, agents, state, {} as BatchSplitRepository);

const plan = (fields: Partial<RunPlan>): RunPlan => ({
  scanId: 1,
  resultId: 7,
  targets: ['127.0.0.1'],
  resolvedNames: {},
  chunkSize: 1,
  nmapFlags: ['-sT'],
  delegation: [{ clients: ['local'], ranges: ['127.0.0.0/8'] }],
  ...fields,
});

describe('BatchQueue.enqueue', () => {
  it('cuts disjoint batches of addresses, with the user names of the addresses in each (issue 8, B.6/B.7)', async () => {
    const { queue, jobs } = recordingQueue();
    const batches = newBatchQueue(queue);
    const run = plan({
      targets: ['127.0.0.5', 'localhost', '127.0.0.5'],
      resolvedNames: { localhost: ['127.0.0.1'] },
    });
    await batches.enqueue(run, [1, 2]);
    expect(jobs.map((j) => [j.opts.jobId, j.data.targets, j.data.hostnames])).toEqual([
      ['r7-b1', ['127.0.0.1'], { '127.0.0.1': ['localhost'] }],
      ['r7-b2', ['127.0.0.5'], {}],
    ]);
  });

  it('cuts batch k of a /8 arithmetically, whatever k is', async () => {
    const { queue, jobs } = recordingQueue();
    const batches = newBatchQueue(queue);
    await batches.enqueue(plan({ targets: ['127.0.0.0/8', '127.0.0.0/9'], chunkSize: 256 }), [65536]);
    expect(jobs[0].data.targets).toHaveLength(256);
    expect(jobs[0].data.targets[0]).toBe('127.255.255.0');
    expect(jobs[0].data.targets.at(-1)).toBe('127.255.255.255');
  });

  it('puts each batch on the queue of the pool it is delegated to, numbered over the parts', async () => {
    const { queue, jobs } = recordingQueue();
    const batches = newBatchQueue(queue);
    const delegation = [
      { clients: ['site-a'], ranges: ['127.0.50.0/25'] },
      { clients: ['site-b', 'site-c'], ranges: ['127.0.50.128/25'] },
    ];
    await batches.enqueue(plan({ targets: ['127.0.50.0/24'], chunkSize: 64, delegation }), [1, 2, 3, 4]);
    expect(jobs.map((j) => [j.client, j.opts.jobId, j.data.targets[0]])).toEqual([
      ['site-a', 'r7-b1', '127.0.50.0'],
      ['site-a', 'r7-b2', '127.0.50.64'],
      ['site-b', 'r7-b3', '127.0.50.128'],
      ['site-c', 'r7-b4', '127.0.50.192'],
    ]);
  });

  it("pushes an agent's batches to it instead of queueing them", async () => {
    const { queue, jobs } = recordingQueue();
    const delegation = [
      { clients: ['agent-1'], ranges: ['127.0.52.0/24'], agents: ['agent-1'] },
      { clients: ['local'], ranges: ['127.0.53.0/24'] },
    ];
    await newBatchQueue(queue).enqueue(plan({ targets: ['127.0.52.1', '127.0.53.1'], delegation }), [1, 2]);
    expect(pushed).toEqual([{ seq: 1, clientId: 'agent-1', targets: ['127.0.52.1'] }]);
    expect(jobs.map((j) => [j.client, j.data.targets])).toEqual([['local', ['127.0.53.1']]]);
  });

  it('never resolves a name itself: a run without its resolution is refused', async () => {
    const batches = newBatchQueue(recordingQueue().queue);
    await expect(batches.enqueue(plan({ resultId: 8, targets: ['localhost'] }), [1])).rejects.toThrow(
      /has not been resolved/,
    );
  });

  it('reads a stored run, a run stored before names were resolved reading as no names', () => {
    const row = { targets: ['127.0.0.1'], resolvedNames: null, chunkSize: 4, nmapFlags: ['-sT'] };
    expect(runPlanOf({ scanId: 1, resultId: 2 }, row)).toEqual({
      scanId: 1,
      resultId: 2,
      targets: ['127.0.0.1'],
      resolvedNames: {},
      chunkSize: 4,
      nmapFlags: ['-sT'],
      delegation: null,
    });
  });
});
