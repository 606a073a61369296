import { MikroORM } from '@mikro-orm/core';
import { DELTA_QUEUE, redisKeys } from '@nso/contracts';
import { redisOptionsFromUrl } from '@nso/events';
import { DeltaReport } from '@nso/persistence';
import { Queue } from 'bullmq';
import { TEST_DATABASES } from '../support/database';
import { Listener, listenOn } from '../support/listeners';
import { waitUntil } from '../support/nmap-processes';
import { AppProcess, startProcess } from '../support/processes';
import { testRedisUrl } from '../support/redis';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

// The delta service end to end: real gateway, worker and delta processes, real nmap against 127.0.40.0/29 only.
// Two runs of one definition with a listener opened and another closed between them give exactly one report.
describe.each(TEST_DATABASES)('delta reports on %s', (database) => {
  let system: TestSystem;
  let delta: AppProcess;
  let stayOpen: Listener;
  let closing: Listener | undefined;
  let opening: Listener | undefined;
  let openingPort: number;
  let scanId: number;
  const runs: number[] = [];

  const api = () => system.gateway.api();
  const reportRows = () =>
    system.gateway.app
      .get(MikroORM)
      .em.fork()
      .find(DeltaReport, { scan: scanId }, { orderBy: { id: 'asc' } });
  const startDelta = async (extra: Record<string, string> = {}) => {
    const p = startProcess('delta', { ...system.env, WORKER_ID: `delta-${Date.now()}`, ...extra });
    await p.waitForOutput(/delta service ready/);
    return p;
  };
  /** Executes the definition and waits for the run's scan_complete; returns its result id. */
  const executeRun = async (): Promise<number> => {
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    try {
      const executed = await api().get(`/api/scans/${scanId}/execute`).expect(200);
      const resultId = executed.body.result_id as number;
      await socket.waitFor((m) => m.result_id === resultId && m.event === 'scan_complete', 60_000);
      runs.push(resultId);
      return resultId;
    } finally {
      socket.close();
    }
  };

  beforeAll(async () => {
    system = await startSystem({ database, workers: 1 });
    delta = await startDelta();
    stayOpen = await listenOn('127.0.40.1');
    closing = await listenOn('127.0.40.1');
    // The port that opens between the runs: taken now, released for the first run.
    const probe = await listenOn('127.0.40.2');
    openingPort = probe.port;
    await probe.close();
    const created = await api()
      .post('/api/scans')
      .send({
        name: 'Delta lab',
        target: '127.0.40.1, 127.0.40.2',
        ports: [stayOpen.port, closing.port, openingPort].join(','),
        scan_arguments: '-sT -Pn -n',
      })
      .expect(201);
    scanId = created.body.scan.id;
  });
  afterAll(async () => {
    await Promise.all([stayOpen?.close(), closing?.close(), opening?.close()]);
    await delta?.stop('SIGKILL');
    await system?.close();
  });

  it('makes no report for the first run, and exactly the expected one for the second', async () => {
    const first = await executeRun();
    // The delta job of the first run ends without a report (no baseline).
    await delta.waitForOutput(new RegExp(`result ${first} is the first completed run`));
    expect(await reportRows()).toEqual([]);

    await closing!.close();
    closing = undefined;
    opening = await listenOn('127.0.40.2', openingPort);
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    const second = await executeRun();
    const event = await socket.waitFor((m) => m.event === 'delta_report', 30_000);
    socket.close();

    const rows = await reportRows();
    expect(rows).toHaveLength(1);
    const [report] = rows;
    expect(report).toMatchObject({
      baselineResult: { id: first },
      currentResult: { id: second },
      reportType: 'delta',
      status: 'generated',
      newPortsCount: 1,
      closedPortsCount: 1,
      changedServicesCount: 0,
      newHostsCount: 0,
      removedHostsCount: 0,
      hasChanges: true,
    });
    const data = report.deltaData as { delta: Record<string, unknown>; baseline: object; current: object };
    expect(data.delta).toMatchObject({
      new_up_hosts: [],
      new_down_hosts: [],
      added_ports: [{ host: '127.0.40.2', protocol: 'tcp', port: openingPort, state: 'open' }],
      removed_ports: [{ host: '127.0.40.1', protocol: 'tcp', port: expect.any(Number), state: 'closed' }],
      changed_ports: [],
      unverified: [],
      comparable: true,
      differences: [],
    });
    expect(data.baseline).toMatchObject({ result_id: first, status: 'completed', trigger: 'execute' });
    expect(data.current).toMatchObject({ result_id: second, port_selection: expect.stringMatching(/^tcp:/) });
    expect(event).toMatchObject({
      event: 'delta_report',
      scan_id: scanId,
      result_id: second,
      report_id: report.id,
      baseline_result_id: first,
      current_result_id: second,
      summary: { new_ports_count: 1, closed_ports_count: 1, has_changes: true },
    });
  });

  it('still leaves one report per pair when the delta process is killed mid-job, and when a job runs twice', async () => {
    await delta.stop('SIGKILL');
    delta = await startDelta({ DELTA_TEST_HOLD_MS: '60000' });
    const third = await executeRun();
    await delta.waitForOutput(new RegExp(`diffing result ${third}`));
    await delta.stop('SIGKILL');
    expect((await reportRows()).map((r) => r.currentResult.id)).not.toContain(third);

    delta = await startDelta();
    await waitUntil(
      async () => (await reportRows()).some((r) => r.currentResult.id === third),
      30_000,
      'the report of the killed job',
    );
    // The same job once more, under another id: the report is not stored twice.
    const queue = new Queue(DELTA_QUEUE, {
      connection: redisOptionsFromUrl(testRedisUrl()),
      prefix: redisKeys(system.env.REDIS_PREFIX).bullPrefix,
    });
    try {
      const again = await queue.add('diff-result', { scanId, resultId: third }, { jobId: `again-${third}` });
      await waitUntil(async () => (await again.getState()) === 'completed', 20_000, 'the repeated job');
    } finally {
      await queue.close();
    }
    const rows = await reportRows();
    expect(rows.map((r) => [r.baselineResult.id, r.currentResult.id])).toEqual([
      [runs[0], runs[1]],
      [runs[1], third],
    ]);
    expect(rows[1]).toMatchObject({ hasChanges: false, newPortsCount: 0, closedPortsCount: 0 });
  });
});
