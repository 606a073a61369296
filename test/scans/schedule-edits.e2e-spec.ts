import { redisKeys, SCHEDULE_QUEUE } from '@nso/contracts';
import { redisOptionsFromUrl } from '@nso/events';
import { Queue } from 'bullmq';
import request from 'supertest';
import { TEST_DATABASES } from '../support/database';
import { TEST_ADMIN } from '../support/gateway';
import { waitUntil } from '../support/nmap-processes';
import { AppProcess, freePort, startProcess } from '../support/processes';
import { testRedisUrl } from '../support/redis';
import { startSystem, TestSystem } from '../support/system';

// Issue 17, point 5: schedule edits from two gateway replicas at once. An edit of the interval keeps the due
// time (it never starts a run), a re-activation fires when it would have, and after any interleaving of edits,
// toggles and deletes the database (is_active, is_scheduled, next_run) and the BullMQ scheduler agree. One minute
// is a real minute here, so the only fire is the one at creation. Real nmap against 127.0.0.1, port 9 only.
describe.each(TEST_DATABASES)('schedule edits across two gateways on %s (issue 17)', (database) => {
  let system: TestSystem;
  let second: AppProcess;
  let urls: string[];
  let queue: Queue;

  const auth = () => system.gateway.admin.auth;
  /** Alternates between the two gateways. */
  const on = (i: number) => request(urls[i % 2]);
  const scanOf = async (scanId: number) =>
    (await on(0).get(`/api/scans/${scanId}`).set(auth()).expect(200)).body;
  const runsOf = async (scanId: number) =>
    (await on(0).get(`/api/scans/${scanId}/results`).set(auth()).expect(200)).body.total as number;
  /** The scan's row and its scheduler, as a user and BullMQ see them. */
  const expectAgreement = async (scanId: number) => {
    const body = await scanOf(scanId);
    const scan = body.scan ?? body;
    const scheduler = await queue.getJobScheduler(`scan-${scanId}`);
    if (scan.is_active && scan.is_scheduled) {
      expect(scheduler).toBeTruthy();
      expect(Number(scheduler!.every)).toBe(scan.interval_minutes * 60_000);
      expect(new Date(scan.next_run).getTime()).toBe(Number(scheduler!.next));
    } else {
      expect({ scheduler, next_run: scan.next_run }).toEqual({ scheduler: undefined, next_run: null });
    }
    return scan;
  };
  /** A scheduled scan, after its one fire at creation has become a run. */
  const scheduledScan = async (name: string) => {
    const created = await on(0)
      .post('/api/scans')
      .set(auth())
      .send({
        verify_changes: false,
        name,
        target: '127.0.0.1',
        ports: '9',
        scan_arguments: '-sT -Pn -n',
        is_scheduled: true,
        interval_minutes: 60,
      })
      .expect(201);
    const scanId = created.body.scan.id as number;
    await waitUntil(async () => (await runsOf(scanId)) === 1, 30_000, 'the fire at creation');
    // The fire stores the next due time after starting its run.
    await waitUntil(
      async () => {
        const scheduler = await queue.getJobScheduler(`scan-${scanId}`);
        const body = await scanOf(scanId);
        const scan = body.scan ?? body;
        return scheduler !== undefined && new Date(scan.next_run).getTime() === Number(scheduler.next);
      },
      30_000,
      'next_run after the fire at creation',
    );
    return scanId;
  };
  /** No fire is waiting or being handled: whatever the edits enqueued has become runs (or there was none). */
  const settled = () =>
    waitUntil(
      async () => {
        const counts = await queue.getJobCounts('wait', 'active', 'prioritized');
        return counts.wait + counts.active + counts.prioritized === 0;
      },
      30_000,
      'the schedule queue to settle',
    );

  beforeAll(async () => {
    system = await startSystem({ database, workers: 1 });
    const port = await freePort();
    second = startProcess('gateway', {
      ...system.env,
      PORT: String(port),
      ADMIN_USERNAME: TEST_ADMIN.username,
      ADMIN_PASSWORD: TEST_ADMIN.password,
    });
    await second.waitForOutput(/API listening on/);
    urls = [system.gateway.url, `http://127.0.0.1:${port}`];
    queue = new Queue(SCHEDULE_QUEUE, {
      connection: redisOptionsFromUrl(testRedisUrl()),
      prefix: redisKeys(system.gateway.config.redisPrefix).bullPrefix,
    });
  });
  afterAll(async () => {
    await queue?.close();
    await second?.stop('SIGKILL');
    await system?.close();
  });

  it('twenty parallel interval edits start no run and keep the due time', async () => {
    const scanId = await scheduledScan('edited 20 times');
    const due = (await expectAgreement(scanId)).next_run;
    const edits = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        on(i)
          .put(`/api/scans/${scanId}`)
          .set(auth())
          .send({ interval_minutes: 2 + i }),
      ),
    );
    expect(edits.map((e) => e.status)).toEqual(Array(20).fill(200));
    await settled();
    expect(await runsOf(scanId)).toBe(1);
    const after = await expectAgreement(scanId);
    expect(after.next_run).toBe(due);
  });

  it('agrees with BullMQ after rounds of parallel toggles, edits and deletes, starting no run', async () => {
    const scanId = await scheduledScan('toggled');
    for (let round = 0; round < 15; round++) {
      const requests = [
        on(round).post(`/api/scans/${scanId}/toggle`).set(auth()),
        on(round + 1)
          .post(`/api/scans/${scanId}/toggle`)
          .set(auth()),
        on(round).post(`/api/scans/${scanId}/toggle`).set(auth()),
        on(round + 1)
          .put(`/api/scans/${scanId}`)
          .set(auth())
          .send({ interval_minutes: 30 + round, is_scheduled: true }),
        ...(round % 5 === 4 ? [on(round).delete(`/api/scans/${scanId}`).set(auth())] : []),
      ];
      const answers = await Promise.all(requests);
      // A toggle or an edit of a scan deactivated a moment ago is fine; a 5xx never is.
      for (const answer of answers) expect(answer.status).toBeLessThan(500);
      await expectAgreement(scanId);
    }
    // Active and scheduled at the end, whatever the last round left: it fires when it would have, not now.
    await on(0)
      .put(`/api/scans/${scanId}`)
      .set(auth())
      .send({ is_active: true, is_scheduled: true })
      .expect(200);
    const scan = await expectAgreement(scanId);
    expect(new Date(scan.next_run).getTime()).toBeGreaterThan(Date.now() + 20 * 60_000);
    await settled();
    expect(await runsOf(scanId)).toBe(1);
  });
});
