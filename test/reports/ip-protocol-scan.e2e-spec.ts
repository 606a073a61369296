import { TEST_DATABASES } from '../support/database';
import { nmapXml } from '../support/nmap-xml';
import { waitUntil } from '../support/nmap-processes';
import { AppProcess, startProcess } from '../support/processes';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

// An IP protocol scan (-sO, on the allow-list) on real nmap, gateway, worker and delta processes, against
// 127.0.93.5 only: a protocol that opened since the baseline (an imported file where UDP, 17, was closed) is
// confirmed by a rescan of that protocol (-sO -pP:17), not judged by a host discovery that lists none; and the
// run's open protocols can be taken as the scan's expected ports (ip/N). -sO sends raw packets: root only, as the
// worker runs in the deployments.
const asRoot = process.getuid?.() === 0 ? describe.each(TEST_DATABASES) : describe.skip.each(TEST_DATABASES);

asRoot('an IP protocol scan (-sO) on %s', (database) => {
  let system: TestSystem;
  let delta: AppProcess;
  const api = () => system.gateway.api();

  beforeAll(async () => {
    system = await startSystem({ database, workers: 1 });
    delta = startProcess('delta', { ...system.env, WORKER_ID: 'delta-ip-protocols' });
    await delta.waitForOutput(/delta service ready/);
  });
  afterAll(async () => {
    await delta?.stop('SIGKILL');
    await system?.close();
  });

  it('confirms a protocol that opened with a rescan of it, and takes the open protocols as expected', async () => {
    const created = await api()
      .post('/api/scans')
      .send({
        name: 'Protocols',
        target: '127.0.93.5',
        ports: '6,17',
        scan_arguments: '-sO -Pn -n',
        verify_delay_seconds: 0,
      })
      .expect(201);
    const scanId = created.body.scan.id as number;
    const baseline = nmapXml('nmap -sO -Pn -n -p6,17 127.0.93.5', [
      {
        address: '127.0.93.5',
        state: 'up',
        ports: [
          { protocol: 'ip', port: 6, state: 'open', service: 'tcp' },
          { protocol: 'ip', port: 17, state: 'closed', service: 'udp' },
        ],
      },
    ]);
    await api()
      .post(`/api/scans/${scanId}/results/import`)
      .set('Content-Type', 'application/xml')
      .send(baseline)
      .expect(201);

    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    const resultId = (await api().get(`/api/scans/${scanId}/execute`).expect(200)).body.result_id as number;
    await socket.waitFor((m) => m.result_id === resultId && m.event === 'scan_complete', 60_000);
    socket.close();
    await delta.waitForOutput(new RegExp(`report \\d+: result ${resultId} against`));
    const list = await api().get(`/api/scan/${scanId}/reports`).expect(200);
    const reportId = list.body.reports[0].id as number;
    const report = async () =>
      (await api().get(`/api/report/${reportId}?include_data=true`).expect(200)).body;
    await waitUntil(async () => (await report()).verification.status === 'done', 60_000, 'the rescan');
    const body = await report();
    expect(body).toMatchObject({ new_ports_count: 1, confirmed_new_ports_count: 1 });
    expect(body.delta_data.delta.added_ports).toEqual([
      expect.objectContaining({ host: '127.0.93.5', protocol: 'ip', port: 17, verification: 'confirmed' }),
    ]);
    const rescan = await api().get(`/api/results/${body.verification.result_id}`).expect(200);
    expect(rescan.body.result.nmap_flags).toEqual(['-sO', '-Pn', '-n', '-pP:17']);

    const accepted = await api().post(`/api/scans/${scanId}/expected/accept-current`).expect(200);
    expect(accepted.body).toMatchObject({
      result_id: resultId,
      expected_ports: { '127.0.93.5': ['ip/6', 'ip/17'] },
    });
    const exposure = await api().get(`/api/scans/${scanId}/exposure`).expect(200);
    expect(exposure.body.counts).toEqual({ expected: 2, unexpected: 0, missing: 0 });
  });
});
