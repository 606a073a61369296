import { TEST_DATABASES } from '../support/database';
import { Listener, listenOn } from '../support/listeners';
import { waitUntil } from '../support/nmap-processes';
import { AppProcess, startProcess } from '../support/processes';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

// A scan with `--open` on real nmap, real gateway, worker and delta processes, listeners on 127.0.93.1-2 only:
// nmap leaves out the hosts without an open port, so when the last open port of a host that is still up closes,
// the report has that port removed and the host unverified, not a host gone down; and the rescan that confirms
// the change runs without --open, so it sees the host and confirms the port closed.
describe.each(TEST_DATABASES)('a scan with --open on %s', (database) => {
  let system: TestSystem;
  let delta: AppProcess;
  const listeners: Listener[] = [];
  let scanId: number;
  const api = () => system.gateway.api();

  beforeAll(async () => {
    system = await startSystem({ database, workers: 1 });
    delta = startProcess('delta', { ...system.env, WORKER_ID: 'delta-open-only' });
    await delta.waitForOutput(/delta service ready/);
    listeners.push(await listenOn('127.0.93.1'), await listenOn('127.0.93.2'));
  });
  afterAll(async () => {
    await Promise.all(listeners.map((l) => l.close()));
    await delta?.stop('SIGKILL');
    await system?.close();
  });

  /** Executes the scan and waits for its run's end and its diff; answers the run's id. */
  const run = async (): Promise<number> => {
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    try {
      const resultId = (await api().get(`/api/scans/${scanId}/execute`).expect(200)).body.result_id as number;
      await socket.waitFor((m) => m.result_id === resultId && m.event === 'scan_complete', 60_000);
      await delta.waitForOutput(
        new RegExp(`report \\d+: result ${resultId} against|result ${resultId} is the first`),
      );
      return resultId;
    } finally {
      socket.close();
    }
  };

  it('reports the closed port, not the host down, and confirms it with a rescan that sees the host', async () => {
    const [one, two] = listeners;
    const created = await api()
      .post('/api/scans')
      .send({
        name: 'Open only',
        target: '127.0.93.1-2',
        ports: `${one.port},${two.port}`,
        scan_arguments: '-sT -Pn -n --open',
        verify_delay_seconds: 0,
      })
      .expect(201);
    scanId = created.body.scan.id;
    await run();
    await two.close();
    listeners.pop();
    const resultId = await run();

    const list = await api().get(`/api/scan/${scanId}/reports`).expect(200);
    const reportId = list.body.reports.find(
      (r: { current_result_id: number }) => r.current_result_id === resultId,
    ).id as number;
    const report = async () =>
      (await api().get(`/api/report/${reportId}?include_data=true`).expect(200)).body;
    await waitUntil(async () => (await report()).verification.status === 'done', 60_000, 'the rescan');
    const body = await report();
    expect(body).toMatchObject({
      closed_ports_count: 1,
      removed_hosts_count: 0,
      confirmed_closed_ports_count: 1,
    });
    expect(body.delta_data.delta.new_down_hosts).toEqual([]);
    expect(body.delta_data.delta.removed_ports).toEqual([
      expect.objectContaining({
        host: '127.0.93.2',
        port: two.port,
        state: 'absent',
        verification: 'confirmed',
      }),
    ]);
    expect(body.delta_data.delta.unverified).toEqual([
      expect.objectContaining({ host: '127.0.93.2', reason: 'state_ambiguous', baseline_state: 'up' }),
    ]);
    const rescan = await api().get(`/api/results/${body.verification.result_id}`).expect(200);
    expect(rescan.body.result.nmap_flags).not.toContain('--open');
  });
});
