import request from 'supertest';
import { TEST_DATABASES } from '../support/database';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { nmapXml, type XmlHost } from '../support/nmap-xml';

// Issue 20 point 2: the import stores a file's first pieces (4,096 hosts each) while its parse thread still reads
// the rest, in one transaction. A file refused after pieces were stored leaves nothing behind; a file found out of
// address order after pieces were stored is stored again, in order. On a gateway run from dist/, as `npm start`
// runs it: the parse thread's script must be there. No nmap runs: the files are written from data.
const HOSTS = 9_000;

describe.each(TEST_DATABASES)('the overlapped nmap XML import on %s (issue 20)', (database) => {
  let gateway: GatewayProcess;
  let scanId: number;
  const args = 'nmap -sT -Pn -n -p 22 -oX - 127.6.0.0/16';
  const address = (i: number) => `127.6.${1 + (i >> 8)}.${i & 255}`;
  const hosts = (count: number): XmlHost[] =>
    Array.from({ length: count }, (_, i) => ({
      address: address(i),
      state: 'up',
      ports: [{ protocol: 'tcp', port: 22, state: 'open' }],
    }));
  const api = () => request(gateway.url);
  const importXml = (xml: string) =>
    api()
      .post(`/api/scans/${scanId}/results/import`)
      .set(gateway.auth)
      .set('Content-Type', 'application/xml')
      .send(xml);
  const runCount = async () =>
    (await api().get(`/api/scans/${scanId}/results?per_page=100`).set(gateway.auth).expect(200)).body
      .total as number;
  const historyOf = async (of: string) =>
    (await api().get(`/api/hosts/${of}/history`).set(gateway.auth).expect(200)).body.history as unknown[];

  beforeAll(async () => {
    gateway = await startGatewayProcess({ database });
    const created = await api()
      .post('/api/scans')
      .set(gateway.auth)
      .send({ name: 'Overlapped import', target: '127.6.0.0/16', ports: '22', scan_arguments: '-sT -Pn -n' })
      .expect(201);
    scanId = created.body.scan.id;
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('stores a file of several pieces whole: every host once, in address order', async () => {
    const imported = await importXml(nmapXml(args, hosts(HOSTS))).expect(201);
    expect(imported.body.summary).toEqual({ hosts: HOSTS, hosts_up: HOSTS, open_ports: HOSTS });
    const run = await api().get(`/api/results/${imported.body.result_id}`).set(gateway.auth).expect(200);
    expect(run.body.result).toMatchObject({ status: 'completed', targets_total: HOSTS, open_ports: HOSTS });
    expect(run.body.result.targets).toEqual(hosts(HOSTS).map((h) => h.address));
    expect(run.body.result.nmap_flags).toEqual(['-sT', '-Pn', '-n', '-p22']);
    expect(run.body.hosts.items[0].address).toBe(address(0));
  });

  it('leaves no run, host or port behind when the last host of a long file is outside the scope', async () => {
    const before = await runCount();
    const outside = nmapXml(args, [...hosts(HOSTS), { address: '192.0.2.1', state: 'up', ports: [] }]);
    const refused = await importXml(outside).expect(400);
    expect(refused.body.error).toMatch(/outside the scan scope/);
    const malformed = await importXml(nmapXml(args, hosts(HOSTS)).replace('</runstats>', '</runstat>'));
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatch(/^nmap XML output is malformed/);
    const cut = nmapXml(args, hosts(HOSTS));
    const truncated = await importXml(cut.slice(0, cut.lastIndexOf('</nmaprun>'))).expect(400);
    expect(truncated.body).toEqual({ error: 'nmap XML output is truncated (no closing </nmaprun>)' });
    expect(await runCount()).toBe(before);
    // The first run stored each address once: nothing of the refused files is left beside it.
    expect(await historyOf(address(0))).toHaveLength(1);
    expect(await historyOf(address(HOSTS - 1))).toHaveLength(1);
    expect(await historyOf('192.0.2.1')).toEqual([]);
  });

  it('stores a file found out of address order after its first pieces, in address order', async () => {
    // In order for two pieces and more, then an address before them all, then one of the first piece again.
    const late: XmlHost[] = [
      { address: '127.6.0.7', state: 'up', ports: [{ protocol: 'tcp', port: 80, state: 'open' }] },
      { address: address(3), state: 'up', ports: [{ protocol: 'tcp', port: 443, state: 'open' }] },
    ];
    const imported = await importXml(nmapXml(args, [...hosts(HOSTS), ...late])).expect(201);
    expect(imported.body.summary).toEqual({ hosts: HOSTS + 1, hosts_up: HOSTS + 1, open_ports: HOSTS + 2 });
    const inOrder = ['127.6.0.7', ...hosts(HOSTS).map((h) => h.address)];
    const run = await api()
      .get(`/api/results/${imported.body.result_id}?per_page=10`)
      .set(gateway.auth)
      .expect(200);
    expect(run.body.result.targets).toEqual(inOrder);
    expect(run.body.result).toMatchObject({ targets_total: HOSTS + 1, hosts_up: HOSTS + 1 });
    const listed = run.body.hosts.items as Array<{ address: string }>;
    expect(listed.map((h) => h.address)).toEqual(inOrder.slice(0, 10));
  });
});
