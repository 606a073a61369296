// JobWorkers against a real Redis: a job reaches the handler of its name with its payload, a failure propagates
// to BullMQ's retries, a job name the registry does not give the queue fails at once, and shutdown closes.
import { DELTA_QUEUE, DIFF_RESULT_JOB, VERIFY_CHANGES_JOB, redisKeys } from '@nso/contracts';
import { Queue, QueueEvents } from 'bullmq';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from '../../../test/support/redis';
import { JobWorkers } from './job-workers';
import { redisOptionsFromUrl } from './redis-connection';
import { RedisOutageMonitor } from './redis-outage.monitor';

const prefix = testRedisPrefix('jobs');
const connection = redisOptionsFromUrl(testRedisUrl());
const bullPrefix = redisKeys(prefix).bullPrefix;
let queue: Queue;
let events: QueueEvents;
let workers: JobWorkers;
const handled: Array<{ name: string; data: unknown; attempt: number }> = [];

beforeAll(async () => {
  queue = new Queue(DELTA_QUEUE, { connection, prefix: bullPrefix });
  events = new QueueEvents(DELTA_QUEUE, { connection, prefix: bullPrefix });
  await events.waitUntilReady();
  workers = new JobWorkers({ url: testRedisUrl(), prefix }, new RedisOutageMonitor());
  workers.work(
    DELTA_QUEUE,
    { name: 'test-worker', concurrency: 1, monitorAs: 'delta worker' },
    {
      [DIFF_RESULT_JOB]: async (job) => {
        handled.push({ name: job.name, data: job.data, attempt: job.attemptsMade + 1 });
        if (job.data.resultId === 13 && job.attemptsMade === 0) throw new Error('database blip');
        return { kind: 'stored', resultId: job.data.resultId };
      },
      [VERIFY_CHANGES_JOB]: async () => ({ kind: 'skipped' }),
    },
  );
});

afterAll(async () => {
  await workers.beforeApplicationShutdown();
  await events.close();
  await queue.close();
  await clearRedisPrefix(prefix);
});

describe('JobWorkers', () => {
  it("hands a job to its name's handler with its payload and stores what the handler returns", async () => {
    const job = await queue.add(DIFF_RESULT_JOB, { scanId: 1, resultId: 11 });
    expect(await job.waitUntilFinished(events, 10_000)).toEqual({ kind: 'stored', resultId: 11 });
    expect(handled).toContainEqual({ name: DIFF_RESULT_JOB, data: { scanId: 1, resultId: 11 }, attempt: 1 });
  });

  it('lets a failure propagate, so BullMQ tries the job again', async () => {
    const job = await queue.add(DIFF_RESULT_JOB, { scanId: 1, resultId: 13 }, { attempts: 2 });
    expect(await job.waitUntilFinished(events, 10_000)).toEqual({ kind: 'stored', resultId: 13 });
    expect(handled.filter((entry) => (entry.data as { resultId: number }).resultId === 13)).toHaveLength(2);
  });

  it('fails a job whose name the queue does not carry at once, naming it, without retries', async () => {
    const job = await queue.add('diff-everything', { scanId: 1, resultId: 12 }, { attempts: 5 });
    await expect(job.waitUntilFinished(events, 10_000)).rejects.toThrow(
      `queue ${DELTA_QUEUE} has no job named "diff-everything"`,
    );
    const failed = await queue.getJob(job.id!);
    expect(failed?.attemptsMade).toBe(1);
    expect(handled.map((entry) => entry.data)).not.toContainEqual({ scanId: 1, resultId: 12 });
  });
});
