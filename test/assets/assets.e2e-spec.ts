import { TEST_DATABASES } from '../support/database';
import type { TestUser } from '../support/gateway';
import { nmapXml, type XmlHost } from '../support/nmap-xml';
import { startSystem, TestSystem } from '../support/system';

// Issue 21, assets over time: GET /api/hosts/{address}, GET /api/scans/{scan_id}/hosts and a port's history, over
// runs imported from nmap XML files written from data (no nmap runs; loopback addresses only).
//
// "Lab" (expected: tcp/22 on every host), three runs of -p 22,80,443:
//   run 1: .1 up 22 open (ssh), 80 closed; .2 up 22 open
//   run 2: .1 up 22 open, 80 open (http);  .2 down;  .3 up 443 open
//   run 3: .1 up 22 open (80 not listed: closed);  .3 up 443 open   (.2 not in the file: not looked at)
// "Web" (another scan of the same user), run 4 of -p 443: .1 up 443 open.
// Bob's own scan lists .1 with 8080 open; none of it shows to the admin, and none of the admin's to him.
const LAB_ARGS = 'nmap -sT -Pn -n -p 22,80,443 -oX - 127.4.0.1-3';
const START = [1796000000, 1796086400, 1796172800, 1796259200];
const finishedAt = (run: number) => new Date((START[run - 1] + 2) * 1000).toISOString();

const ssh = { protocol: 'tcp', port: 22, state: 'open', service: 'ssh', product: 'OpenSSH', version: '9.6' };
const RUNS: Array<{ scan: 'lab' | 'web'; args: string; hosts: XmlHost[] }> = [
  {
    scan: 'lab',
    args: LAB_ARGS,
    hosts: [
      { address: '127.4.0.1', state: 'up', ports: [ssh, { protocol: 'tcp', port: 80, state: 'closed' }] },
      { address: '127.4.0.2', state: 'up', ports: [ssh] },
    ],
  },
  {
    scan: 'lab',
    args: LAB_ARGS,
    hosts: [
      {
        address: '127.4.0.1',
        state: 'up',
        ports: [ssh, { protocol: 'tcp', port: 80, state: 'open', service: 'http', product: 'nginx' }],
      },
      { address: '127.4.0.2', state: 'down', ports: [] },
      {
        address: '127.4.0.3',
        state: 'up',
        ports: [{ protocol: 'tcp', port: 443, state: 'open', service: 'https' }],
      },
    ],
  },
  {
    scan: 'lab',
    args: LAB_ARGS,
    hosts: [
      { address: '127.4.0.1', state: 'up', ports: [ssh] },
      {
        address: '127.4.0.3',
        state: 'up',
        ports: [{ protocol: 'tcp', port: 443, state: 'open', service: 'https' }],
      },
    ],
  },
  {
    scan: 'web',
    args: 'nmap -sT -Pn -n -p 443 -oX - 127.4.0.1',
    hosts: [
      {
        address: '127.4.0.1',
        state: 'up',
        ports: [{ protocol: 'tcp', port: 443, state: 'open', service: 'https' }],
      },
    ],
  },
];

describe.each(TEST_DATABASES)('assets over time on %s (issue 21)', (database) => {
  let system: TestSystem;
  let bob: TestUser;
  const scans: Record<string, number> = {};
  /** Result ids of runs 1-4 (index 1-4). */
  const run: number[] = [0];
  const api = (user?: TestUser) => system.gateway.api(user);
  /** What a run points at: `{result_id, scan_id, finished_at}`. */
  const seen = (n: number) => ({
    result_id: run[n],
    scan_id: n === 4 ? scans.web : scans.lab,
    finished_at: finishedAt(n),
  });

  const createScan = async (user: TestUser | undefined, name: string, extra: Record<string, unknown> = {}) =>
    (
      await api(user)
        .post('/api/scans')
        .send({ name, target: '127.4.0.0/29', ports: '22,80,443', scan_arguments: '-sT -Pn -n', ...extra })
        .expect(201)
    ).body.scan.id as number;
  const importRun = async (user: TestUser | undefined, scanId: number, xml: string) =>
    (
      await api(user)
        .post(`/api/scans/${scanId}/results/import`)
        .set('Content-Type', 'application/xml')
        .send(xml)
        .expect(201)
    ).body.result_id as number;

  beforeAll(async () => {
    system = await startSystem({ database, workers: 0 });
    bob = await system.gateway.newUser('bob');
    scans.lab = await createScan(undefined, 'Lab', { expected_ports: { '*': ['tcp/22'] } });
    scans.web = await createScan(undefined, 'Web');
    scans.bob = await createScan(bob, 'Bob’s');
    for (const [i, r] of RUNS.entries())
      run.push(await importRun(undefined, scans[r.scan], nmapXml(r.args, r.hosts, START[i])));
    await importRun(
      bob,
      scans.bob,
      nmapXml('nmap -sT -Pn -n -p 8080 -oX - 127.4.0.1', [
        { address: '127.4.0.1', state: 'up', ports: [{ protocol: 'tcp', port: 8080, state: 'open' }] },
      ]),
    );
  });
  afterAll(async () => {
    await system?.close();
  });

  describe('GET /api/hosts/{address}', () => {
    it('tells first seen, last seen up and last seen across runs, and every port seen open', async () => {
      const { body } = await api().get('/api/hosts/127.4.0.1').expect(200);
      expect(body).toEqual({
        status: 'success',
        address: '127.4.0.1',
        state: 'up',
        hostnames: [],
        first_seen: seen(1),
        last_seen_up: seen(4),
        last_seen: seen(4),
        ports: [
          // Run 4 scanned only 443: tcp/22 is still open as far as anyone looked.
          { protocol: 'tcp', port: 22, service: 'ssh', product: 'OpenSSH', version: '9.6', open_now: true },
          { protocol: 'tcp', port: 443, service: 'https', product: null, version: null, open_now: true },
          { protocol: 'tcp', port: 80, service: 'http', product: 'nginx', version: null, open_now: false },
        ].map((p) => ({
          ...p,
          first_seen: seen(p.port === 22 ? 1 : p.port === 80 ? 2 : 4),
          last_seen: seen(p.port === 22 ? 3 : p.port === 80 ? 2 : 4),
        })),
        scans: [
          { scan_id: scans.lab, scan_name: 'Lab', runs: 3 },
          { scan_id: scans.web, scan_name: 'Web', runs: 1 },
        ],
        runs_total: 4,
        runs: [4, 3, 2, 1].map((n) => ({
          result_id: run[n],
          scan_id: n === 4 ? scans.web : scans.lab,
          scan_name: n === 4 ? 'Web' : 'Lab',
          trigger: 'import',
          finished_at: finishedAt(n),
          state: 'up',
        })),
      });
    });

    it('shows a host that went down as down, its ports no longer open', async () => {
      const { body } = await api().get('/api/hosts/127.4.0.2').expect(200);
      expect(body).toMatchObject({
        address: '127.4.0.2',
        state: 'down',
        first_seen: seen(1),
        last_seen_up: seen(1),
        last_seen: seen(2),
        ports: [{ protocol: 'tcp', port: 22, open_now: false, first_seen: seen(1), last_seen: seen(1) }],
        runs_total: 2,
      });
      expect(body.runs.map((r: { state: string }) => r.state)).toEqual(['down', 'up']);
    });

    it('reads any spelling of the address in its canonical form', async () => {
      const { body } = await api().get('/api/hosts/::ffff:127.4.0.3').expect(200);
      expect(body).toMatchObject({ address: '127.4.0.3', first_seen: seen(2), last_seen: seen(3) });
    });

    it('shows another user nothing of it: 404, and his own runs only', async () => {
      expect((await api(bob).get('/api/hosts/127.4.0.2').expect(404)).body).toEqual({
        error: 'Host not found',
      });
      const { body } = await api(bob).get('/api/hosts/127.4.0.1').expect(200);
      expect(body.runs_total).toBe(1);
      expect(body.scans).toEqual([{ scan_id: scans.bob, scan_name: 'Bob’s', runs: 1 }]);
      expect(body.ports.map((p: { port: number }) => p.port)).toEqual([8080]);
      const admin = await api().get('/api/hosts/127.4.0.1').expect(200);
      expect(admin.body.ports.map((p: { port: number }) => p.port)).not.toContain(8080);
    });

    it('answers 404 for an address no run listed and 400 for one that is no IP', async () => {
      expect((await api().get('/api/hosts/127.4.0.7').expect(404)).body).toEqual({ error: 'Host not found' });
      expect((await api().get('/api/hosts/not-an-ip').expect(400)).body).toEqual({
        error: 'address must be an IPv4 or IPv6 address',
        field: 'address',
      });
    });
  });

  describe('GET /api/hosts/{address}/ports/{protocol}/{port}/history', () => {
    const entry = (n: number, state: string, service: Partial<Record<string, string | null>> = {}) => ({
      result_id: run[n],
      scan_id: n === 4 ? scans.web : scans.lab,
      trigger: 'import',
      finished_at: finishedAt(n),
      state,
      service: null,
      product: null,
      version: null,
      ...service,
    });

    it('shows a port that opened and closed again, and skips runs that did not scan it', async () => {
      const { body } = await api().get('/api/hosts/127.4.0.1/ports/tcp/80/history').expect(200);
      expect(body).toMatchObject({ address: '127.4.0.1', protocol: 'tcp', port: 80, total: 3, page: 1 });
      // Run 3 did not list 80 (nmap's closed ports unlisted); run 4 scanned only 443.
      expect(body.history).toEqual([
        entry(3, 'closed'),
        entry(2, 'open', { service: 'http', product: 'nginx' }),
        entry(1, 'closed'),
      ]);
    });

    it('says host-down where the host did not answer', async () => {
      const { body } = await api().get('/api/hosts/127.4.0.2/ports/tcp/22/history').expect(200);
      expect(body.history).toEqual([
        entry(2, 'host-down'),
        entry(1, 'open', { service: 'ssh', product: 'OpenSSH', version: '9.6' }),
      ]);
    });

    it('pages newest first', async () => {
      const first = await api().get('/api/hosts/127.4.0.1/ports/tcp/443/history?per_page=3').expect(200);
      expect(first.body).toMatchObject({
        total: 4,
        page: 1,
        per_page: 3,
        pages: 2,
        has_next: true,
        has_prev: false,
      });
      expect(first.body.history.map((h: { result_id: number }) => h.result_id)).toEqual([
        run[4],
        run[3],
        run[2],
      ]);
      expect(first.body.history[0]).toEqual(entry(4, 'open', { service: 'https' }));
      const second = await api()
        .get('/api/hosts/127.4.0.1/ports/tcp/443/history?per_page=3&page=2')
        .expect(200);
      expect(second.body).toMatchObject({ total: 4, page: 2, has_next: false, has_prev: true });
      expect(second.body.history).toEqual([entry(1, 'closed')]);
    });

    it('is owner-scoped, and refuses a malformed protocol, port or address', async () => {
      await api(bob).get('/api/hosts/127.4.0.2/ports/tcp/22/history').expect(404);
      const bobs = await api(bob).get('/api/hosts/127.4.0.1/ports/tcp/80/history').expect(200);
      expect(bobs.body.total).toBe(0);
      for (const [path, field] of [
        ['/api/hosts/127.4.0.1/ports/icmp/22/history', 'protocol'],
        ['/api/hosts/127.4.0.1/ports/TCP/22/history', 'protocol'],
        ['/api/hosts/127.4.0.1/ports/tcp/0/history', 'port'],
        ['/api/hosts/127.4.0.1/ports/tcp/65536/history', 'port'],
        ['/api/hosts/127.4.0.1/ports/tcp/022/history', 'port'],
        ['/api/hosts/127.4.0/ports/tcp/22/history', 'address'],
      ]) {
        const { body } = await api().get(path).expect(400);
        expect(body.field).toBe(field);
        expect(body.error).toContain(field);
      }
      const paging = await api().get('/api/hosts/127.4.0.1/ports/tcp/22/history?per_page=0').expect(400);
      expect(paging.body.error).toContain('per_page');
    });
  });

  describe('GET /api/scans/{scan_id}/hosts', () => {
    const addresses = (body: { hosts: Array<{ address: string }> }) => body.hosts.map((h) => h.address);

    it('lists each address once with its latest state, open ports and exposure', async () => {
      const { body } = await api().get(`/api/scans/${scans.lab}/hosts`).expect(200);
      expect(body).toMatchObject({
        status: 'success',
        scan_id: scans.lab,
        expected_ports: true,
        total: 3,
        page: 1,
        has_next: false,
      });
      expect(body.hosts).toEqual([
        {
          address: '127.4.0.1',
          state: 'up',
          first_seen: seen(1),
          last_seen_up: seen(3),
          last_seen: seen(3),
          open_ports: [
            {
              protocol: 'tcp',
              port: 22,
              service: 'ssh',
              product: 'OpenSSH',
              version: '9.6',
              exposure: 'expected',
            },
          ],
          unexpected: 0,
        },
        {
          address: '127.4.0.2',
          state: 'down',
          first_seen: seen(1),
          last_seen_up: seen(1),
          last_seen: seen(2),
          open_ports: [],
          unexpected: 0,
        },
        {
          address: '127.4.0.3',
          state: 'up',
          first_seen: seen(2),
          last_seen_up: seen(3),
          last_seen: seen(3),
          open_ports: [
            {
              protocol: 'tcp',
              port: 443,
              service: 'https',
              product: null,
              version: null,
              exposure: 'unexpected',
            },
          ],
          unexpected: 1,
        },
      ]);
    });

    it('filters by port, protocol, state, service and unexpected', async () => {
      const list = async (query: string) =>
        addresses((await api().get(`/api/scans/${scans.lab}/hosts?${query}`).expect(200)).body);
      expect(await list('port=22')).toEqual(['127.4.0.1']);
      expect(await list('port=22&protocol=udp')).toEqual([]);
      expect(await list('protocol=tcp')).toEqual(['127.4.0.1', '127.4.0.3']);
      expect(await list('state=down')).toEqual(['127.4.0.2']);
      expect(await list('state=up&service=HTTPS')).toEqual(['127.4.0.3']);
      expect(await list('unexpected=true')).toEqual(['127.4.0.3']);
      expect(await list('unexpected=false')).toEqual(['127.4.0.1', '127.4.0.2']);
    });

    it('pages like the other lists', async () => {
      const first = await api().get(`/api/scans/${scans.lab}/hosts?per_page=2`).expect(200);
      expect(first.body).toMatchObject({
        total: 3,
        page: 1,
        per_page: 2,
        pages: 2,
        has_next: true,
        has_prev: false,
      });
      expect(addresses(first.body)).toEqual(['127.4.0.1', '127.4.0.2']);
      const second = await api().get(`/api/scans/${scans.lab}/hosts?per_page=2&page=2`).expect(200);
      expect(second.body).toMatchObject({ total: 3, page: 2, has_next: false, has_prev: true });
      expect(addresses(second.body)).toEqual(['127.4.0.3']);
    });

    it('leaves out exposure for a scan without expected ports', async () => {
      const { body } = await api().get(`/api/scans/${scans.web}/hosts`).expect(200);
      expect(body).toMatchObject({ expected_ports: false, total: 1 });
      expect(body.hosts[0]).not.toHaveProperty('unexpected');
      expect(body.hosts[0].open_ports).toEqual([
        { protocol: 'tcp', port: 443, service: 'https', product: null, version: null },
      ]);
    });

    it('answers 404 for another user’s scan and 400 naming a malformed filter', async () => {
      expect((await api(bob).get(`/api/scans/${scans.lab}/hosts`).expect(404)).body).toEqual({
        error: 'Scan not found',
      });
      for (const [query, field] of [
        ['port=0', 'port'],
        ['port=ssh', 'port'],
        ['port=65536', 'port'],
        ['protocol=icmp', 'protocol'],
        ['state=gone', 'state'],
        ['unexpected=maybe', 'unexpected'],
        ['per_page=501', 'per_page'],
        ['colour=red', 'colour'],
      ]) {
        const { body } = await api().get(`/api/scans/${scans.lab}/hosts?${query}`).expect(400);
        expect(body.error).toContain(field);
      }
    });
  });
});
