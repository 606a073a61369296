import { TEST_DATABASES } from '../support/database';
import { nmapXml, type XmlHost } from '../support/nmap-xml';
import { waitUntil } from '../support/nmap-processes';
import { AppProcess, startProcess } from '../support/processes';
import { startSystem, TestSystem } from '../support/system';

// Issue 17, points 1, 2 and 8: an imported file is stored with every address in its one canonical form (as
// agents, workers, the scope and the history routes read it), one target per address, and a value no table can
// hold is a 400 on both databases, never a 500. No nmap runs here: the files are written from data.
describe.each(TEST_DATABASES)('the nmap XML import on %s (issue 17)', (database) => {
  let system: TestSystem;
  let delta: AppProcess;
  let scanId: number;
  const args = 'nmap -sT -Pn -n -p 22 -oX - 127.0.0.5 127.0.0.7 ::1';
  const up = (address: string, ports: XmlHost['ports'] = [{ protocol: 'tcp', port: 22, state: 'open' }]) =>
    ({ address, state: 'up', ports }) as XmlHost;

  const api = () => system.gateway.api();
  const importXml = (xml: string, type = 'application/xml') =>
    api().post(`/api/scans/${scanId}/results/import`).set('Content-Type', type).send(xml);
  const runCount = async () =>
    (await api().get(`/api/scans/${scanId}/results?per_page=100`).expect(200)).body.total as number;

  beforeAll(async () => {
    system = await startSystem({ database, workers: 0 });
    delta = startProcess('delta', { ...system.env, WORKER_ID: `delta-import-${database}` });
    await delta.waitForOutput(/delta service ready/);
    const created = await api()
      .post('/api/scans')
      .send({
        name: 'Import',
        target: '127.0.0.5, 127.0.0.7',
        ports: '22',
        scan_arguments: '-sT -Pn -n',
      })
      .expect(201);
    scanId = created.body.scan.id;
  });
  afterAll(async () => {
    await delta?.stop();
    await system?.close();
  });

  it('stores ::ffff:127.0.0.5, ::FFFF:127.0.0.7 and 0:0:0:0:0:0:0:1 as the hosts they are: a re-import is no change', async () => {
    const first = await importXml(nmapXml(args, [up('127.0.0.5'), up('127.0.0.7'), up('::1')])).expect(201);
    const second = await importXml(
      nmapXml(args, [up('::ffff:127.0.0.5'), up('::FFFF:127.0.0.7'), up('0:0:0:0:0:0:0:1')]),
    ).expect(201);
    expect(second.body.summary).toEqual({ hosts: 3, hosts_up: 3, open_ports: 3 });
    // A report without changes is stored, not announced: poll for it.
    let report: { id: number; baseline_result_id: number } | undefined;
    await waitUntil(
      async () => {
        const reports = await api().get(`/api/scan/${scanId}/reports`).expect(200);
        report = reports.body.reports.find(
          (r: { current_result_id: number }) => r.current_result_id === second.body.result_id,
        );
        return report !== undefined;
      },
      30_000,
      'the report of the second import',
    );
    expect(report!.baseline_result_id).toBe(first.body.result_id);
    const data = await api().get(`/api/report/${report!.id}?include_data=true`).expect(200);
    // Before: a new up host 127.0.0.5 in IPv6 spelling with added ports, and an unverified `not_targeted` one.
    expect(data.body.delta_data.delta).toMatchObject({
      new_up_hosts: [],
      new_down_hosts: [],
      added_ports: [],
      removed_ports: [],
      changed_ports: [],
      unverified: [],
    });

    const run = await api().get(`/api/results/${second.body.result_id}`).expect(200);
    expect(run.body.result.targets).toEqual(['127.0.0.5', '127.0.0.7', '::1']);
    expect(
      run.body.hosts.items.map((h: { address: string; address_type: string }) => [h.address, h.address_type]),
    ).toEqual([
      ['127.0.0.5', 'ipv4'],
      ['127.0.0.7', 'ipv4'],
      ['::1', 'ipv6'],
    ]);

    const both = [second.body.result_id, first.body.result_id];
    for (const [asked, address] of [
      ['::ffff:127.0.0.5', '127.0.0.5'],
      ['::FFFF:127.0.0.7', '127.0.0.7'],
      ['127.0.0.5', '127.0.0.5'],
      ['::1', '::1'],
      ['0:0:0:0:0:0:0:1', '::1'],
    ]) {
      const history = await api().get(`/api/hosts/${asked}/history`).expect(200);
      expect(history.body.address).toBe(address);
      expect(history.body.history.map((h: { result_id: number }) => h.result_id)).toEqual(both);
    }
    await api().get('/api/hosts/fe80::1%25lo/history').expect(400);
  });

  it('counts an address listed twice as one target', async () => {
    const imported = await importXml(
      nmapXml(args, [
        { address: '127.0.0.8', state: 'down', ports: [] },
        up('::ffff:127.0.0.8', [{ protocol: 'tcp', port: 22, state: 'open' }]),
      ]),
    ).expect(201);
    expect(imported.body.summary).toEqual({ hosts: 1, hosts_up: 1, open_ports: 1 });
    const run = await api().get(`/api/results/${imported.body.result_id}`).expect(200);
    expect(run.body.result).toMatchObject({ targets: ['127.0.0.8'], targets_total: 1, hosts_up: 1 });
    expect(run.body.hosts.items).toHaveLength(1);
  });

  it('stores the options nmap recorded with their values, as an API run stores them, and the hosts in address order', async () => {
    // args as nmap 7.93 writes them (targets last); the hosts as --randomize-hosts lists them.
    const recorded =
      'nmap -sT -Pn -n --max-retries 0 --min-rate 5000 --max-hostgroup 64 --host-timeout 30s -p 22 -T 4 ' +
      '--randomize-hosts -oX f.xml --datadir /tmp 127.0.0.5 127.0.0.7 127.0.0.10 ::1';
    const imported = await importXml(
      nmapXml(recorded, [up('::1'), up('127.0.0.10'), up('127.0.0.5'), up('127.0.0.7')]),
    ).expect(201);
    const run = await api().get(`/api/results/${imported.body.result_id}`).expect(200);
    expect(run.body.result.nmap_flags).toEqual([
      '-sT',
      '-Pn',
      '-n',
      '--max-retries=0',
      '--min-rate=5000',
      '--max-hostgroup=64',
      '--host-timeout=30s',
      '-p22',
      '-T4',
      '--randomize-hosts',
    ]);
    const inOrder = ['127.0.0.5', '127.0.0.7', '127.0.0.10', '::1'];
    expect(run.body.result.targets).toEqual(inOrder);
    expect(run.body.hosts.items.map((h: { address: string }) => h.address)).toEqual(inOrder);
    const batches = await api().get(`/api/results/${imported.body.result_id}/batches`).expect(200);
    expect(batches.body.batches[0].targets).toEqual(inOrder);

    // A file without args: the options a run of the scan stores (scan_arguments and ports).
    const bare = nmapXml(args, [up('127.0.0.5')]).replace(/ args="[^"]*"/, '');
    const withoutArgs = await importXml(bare).expect(201);
    const runWithout = await api().get(`/api/results/${withoutArgs.body.result_id}`).expect(200);
    expect(runWithout.body.result.nmap_flags).toEqual(['-sT', '-Pn', '-n', '-p22']);
  });

  it('refuses with a 400 naming the field what no table can hold, storing nothing', async () => {
    const xml = nmapXml(args, [up('127.0.0.5')]);
    const long = 'x'.repeat(300);
    const before = await runCount();
    const bad: Array<[string, RegExp]> = [
      [xml.replace(/ start="\d+"/, ' start="abc"'), /<nmaprun start>="abc" is not a time/],
      [xml.replace(/ start="\d+"/, ' start="1e20"'), /<nmaprun start>="1e20" is not a time/],
      [
        xml.replace(/<finished time="\d+"/, '<finished time="99999999999999"'),
        /<finished time>="99999999999999"/,
      ],
      [xml.replace(/<finished time="\d+"/, '<finished time="5"'), /before <nmaprun start/],
      [
        nmapXml(args, [
          up('127.0.0.5', [{ protocol: 'tcp', port: 22, state: 'open', service: 'ssh', product: long }]),
        ]),
        /"127\.0\.0\.5" tcp\/22: product is 300 characters long \(at most 255\)/,
      ],
      [xml.replace('<state state="open"', `<state state="${long}"`), /tcp\/22: state is 300 characters long/],
      [xml.replace('reason="user-set"', `reason="${long}"`), /"127\.0\.0\.5": reason is 300 characters long/],
      [xml.replace('addr="127.0.0.5"', 'addr="127.0.0.500"'), /is not an IPv4 or IPv6 address/],
      [xml.replace('portid="22"', 'portid="99999999999"'), /outside 0-65535/],
    ];
    for (const [body, error] of bad) {
      const refused = await importXml(body);
      expect({ status: refused.status, error: refused.body.error }).toEqual({
        status: 400,
        error: expect.stringMatching(error),
      });
    }
    // The documented 415 for a file sent as JSON, not the JSON parser's "Malformed JSON body".
    const json = await importXml(xml, 'application/json').expect(415);
    expect(json.body).toEqual({ error: 'Send the nmap XML as application/xml or text/xml' });
    expect(await runCount()).toBe(before);
  });
});
