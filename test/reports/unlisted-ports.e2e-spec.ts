import { TEST_DATABASES } from '../support/database';
import { waitUntil } from '../support/nmap-processes';
import { AppProcess, startProcess } from '../support/processes';
import { startSystem, TestSystem } from '../support/system';

// Issue 21 §0 (c): a port that is no longer listed takes the state nmap gives the ports it did not list
// (`<extraports state="filtered">`), stored with the host and read back by the delta service; it is not `closed`.
// No nmap runs here: both files are written as nmap 7.93 writes them.
describe.each(TEST_DATABASES)('a port no longer listed, on %s', (database) => {
  let system: TestSystem;
  let delta: AppProcess;
  let scanId: number;
  const args = 'nmap -sS -Pn -n -p 22,80 -oX - 127.0.0.5';
  const file = (ports: string) => `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="${args}" start="1795385382" startstr="" version="7.93" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="2" services="22,80"/>
<host starttime="1795385382" endtime="1795385383"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="127.0.0.5" addrtype="ipv4"/><hostnames></hostnames>
<ports>${ports}</ports>
<times srtt="50" rttvar="50" to="100000"/></host>
<runstats><finished time="1795385383" timestr="" summary="" elapsed="1.00" exit="success"/>
<hosts up="1" down="0" total="1"/></runstats>
</nmaprun>`;
  const port = (n: number) =>
    `<port protocol="tcp" portid="${n}"><state state="open" reason="syn-ack" reason_ttl="64"/></port>`;

  const api = () => system.gateway.api();
  const importXml = (xml: string) =>
    api().post(`/api/scans/${scanId}/results/import`).set('Content-Type', 'application/xml').send(xml);

  beforeAll(async () => {
    system = await startSystem({ database, workers: 0 });
    delta = startProcess('delta', { ...system.env, WORKER_ID: `delta-unlisted-${database}` });
    await delta.waitForOutput(/delta service ready/);
    const created = await api()
      .post('/api/scans')
      .send({ name: 'Unlisted', target: '127.0.0.5', ports: '22,80', scan_arguments: '-sS -Pn -n' })
      .expect(201);
    scanId = created.body.scan.id;
  });
  afterAll(async () => {
    await delta?.stop();
    await system?.close();
  });

  it('reports the vanished port removed as filtered when <extraports> says the unlisted ports are filtered', async () => {
    await importXml(file(port(22) + port(80))).expect(201);
    const second = await importXml(
      file(
        '<extraports state="filtered" count="1"><extrareasons reason="no-response" count="1" proto="tcp" ports="80"/></extraports>' +
          port(22),
      ),
    ).expect(201);
    let reportId: number | undefined;
    await waitUntil(
      async () => {
        const reports = await api().get(`/api/scan/${scanId}/reports`).expect(200);
        reportId = reports.body.reports.find(
          (r: { current_result_id: number }) => r.current_result_id === second.body.result_id,
        )?.id;
        return reportId !== undefined;
      },
      30_000,
      'the report of the second import',
    );
    const report = await api().get(`/api/report/${reportId}?include_data=true`).expect(200);
    expect(report.body.delta_data.delta).toMatchObject({
      removed_ports: [{ host: '127.0.0.5', protocol: 'tcp', port: 80, state: 'filtered' }],
      added_ports: [],
      unverified: [],
      comparable: true,
    });
  });
});
