import { parse } from 'csv-parse/sync';
import { TEST_DATABASES } from '../support/database';
import { TestUser } from '../support/gateway';
import { waitUntil } from '../support/nmap-processes';
import { nmapXml, type XmlHost, type XmlPort } from '../support/nmap-xml';
import { AppProcess, startProcess } from '../support/processes';
import { startSystem, TestSystem } from '../support/system';

// Issue 21 §3, "Accepted changes and expected ports" (docs/delta.md): a user accepts a report's changes (all, or
// by change_id) and the report, its CSV and a second accept show who did it first; a scan takes its latest run's
// open ports as expected and later runs are judged against them. Runs are imported nmap XML files (real imports,
// real delta process); no nmap runs, only 127.0.9.x addresses appear.
describe.each(TEST_DATABASES)('accepted changes and expected ports on %s', (database) => {
  let system: TestSystem;
  let delta: AppProcess;
  let other: TestUser;
  let start = 1795385382;

  const api = (user?: TestUser) => system.gateway.api(user);
  const port = (n: number, state = 'open', service?: string, version?: string): XmlPort => ({
    protocol: 'tcp',
    port: n,
    state,
    ...(service ? { service } : {}),
    ...(version ? { product: 'OpenSSH', version } : {}),
  });
  /** Imports a file as a completed run of the scan; its result id. */
  const importRun = async (scanId: number, args: string, hosts: XmlHost[]): Promise<number> => {
    start += 3600;
    const imported = await api()
      .post(`/api/scans/${scanId}/results/import`)
      .set('Content-Type', 'application/xml')
      .send(nmapXml(args, hosts, start))
      .expect(201);
    return imported.body.result_id as number;
  };
  const createScan = async (name: string, target: string): Promise<number> => {
    const created = await api()
      .post('/api/scans')
      .send({ name, target, ports: '22,80,443', scan_arguments: '-sT -sV -Pn -n' })
      .expect(201);
    return created.body.scan.id as number;
  };

  beforeAll(async () => {
    system = await startSystem({ database, workers: 0 });
    delta = startProcess('delta', { ...system.env, WORKER_ID: `delta-accept-${database}` });
    await delta.waitForOutput(/delta service ready/);
    other = await system.gateway.newUser(`accepter-${database}`);
  });
  afterAll(async () => {
    await delta?.stop();
    await system?.close();
  });

  describe('accepting a report’s changes', () => {
    let scanId: number;
    let reportId: number;
    /** change_id by what it is: `added 127.0.9.5 tcp/443`, `up 127.0.9.7`, `unverified 127.0.9.6`, ... */
    const ids = new Map<string, number>();
    type Entry = { change_id: number; accepted: { by: number; by_username: string; at: string } | null };
    const lists = async () =>
      (await api().get(`/api/report/${reportId}?include_data=true`).expect(200)).body.delta_data
        .delta as Record<string, Array<Entry & { host: string; protocol?: string; port?: number }>>;
    const args = 'nmap -sT -sV -Pn -n -p 22,80,443 -oX - 127.0.9.5 127.0.9.6 127.0.9.7';

    beforeAll(async () => {
      scanId = await createScan('Accept', '127.0.9.5 127.0.9.6 127.0.9.7');
      await importRun(scanId, args, [
        {
          address: '127.0.9.5',
          state: 'up',
          ports: [port(22, 'open', 'ssh', '9.2'), port(80, 'open', 'http')],
        },
        { address: '127.0.9.6', state: 'up', ports: [port(22, 'open', 'ssh')] },
      ]);
      // 80 closes and 443 opens on .5, ssh changes version, .7 comes up with 80; .6 is not in the file at all.
      const second = await importRun(scanId, 'nmap -sT -sV -Pn -n -p 22,80,443 -oX - 127.0.9.5 127.0.9.7', [
        {
          address: '127.0.9.5',
          state: 'up',
          ports: [port(22, 'open', 'ssh', '9.6'), port(80, 'closed'), port(443, 'open', 'https')],
        },
        { address: '127.0.9.7', state: 'up', ports: [port(80, 'open', 'http')] },
      ]);
      await waitUntil(
        async () => {
          const reports = await api().get(`/api/scan/${scanId}/reports`).expect(200);
          reportId = reports.body.reports.find(
            (r: { current_result_id: number }) => r.current_result_id === second,
          )?.id;
          return reportId !== undefined;
        },
        30_000,
        'the report of the second import',
      );
      const delta = await lists();
      for (const h of delta.new_up_hosts) ids.set(`up ${h.host}`, h.change_id);
      for (const [list, name] of [
        ['added_ports', 'added'],
        ['removed_ports', 'removed'],
        ['changed_ports', 'changed'],
      ])
        for (const p of delta[list]) ids.set(`${name} ${p.host} ${p.protocol}/${p.port}`, p.change_id);
      for (const u of delta.unverified) ids.set(`unverified ${u.host}`, u.change_id);
      expect([...ids.keys()].sort()).toEqual([
        'added 127.0.9.5 tcp/443',
        'added 127.0.9.7 tcp/80',
        'changed 127.0.9.5 tcp/22',
        'removed 127.0.9.5 tcp/80',
        'unverified 127.0.9.6',
        'up 127.0.9.7',
      ]);
      // Nothing is accepted yet.
      expect(Object.values(delta).flatMap((l) => (Array.isArray(l) ? l.map((e) => e.accepted) : []))).toEqual(
        Array(6).fill(null),
      );
    });

    const acceptedRows = async () =>
      Object.values(await lists())
        .flatMap((l) => (Array.isArray(l) ? l : []))
        .filter((e) => e.accepted !== null)
        .map((e) => ({
          change_id: e.change_id,
          by: e.accepted!.by,
          by_username: e.accepted!.by_username,
          at: e.accepted!.at,
        }))
        .sort((a, b) => a.change_id - b.change_id);

    let firstAt: string;

    it('accepts the changes a list names, records who and when, and shows them in the report', async () => {
      const named = [ids.get('removed 127.0.9.5 tcp/80')!, ids.get('added 127.0.9.5 tcp/443')!];
      const accepted = await api()
        .post(`/api/report/${reportId}/accept`)
        .send({ change_ids: named })
        .expect(200);
      const sorted = [...named].sort((a, b) => a - b);
      expect(accepted.body).toEqual({
        message: '2 change(s) accepted',
        report_id: reportId,
        accepted: 2,
        already_accepted: 0,
        changes: sorted.map((change_id) => ({
          change_id,
          accepted: { by: system.gateway.admin.id, by_username: 'admin', at: expect.any(String) },
        })),
      });
      firstAt = accepted.body.changes[0].accepted.at;
      expect(Date.now() - Date.parse(firstAt)).toBeLessThan(60_000);
      expect(await acceptedRows()).toEqual(
        sorted.map((change_id) => ({
          change_id,
          by: system.gateway.admin.id,
          by_username: 'admin',
          at: firstAt,
        })),
      );
    });

    it('refuses change_ids that are no change of the report, naming them, and writes nothing', async () => {
      const before = await acceptedRows();
      const unverified = ids.get('unverified 127.0.9.6')!;
      const refused = await api()
        .post(`/api/report/${reportId}/accept`)
        .send({ change_ids: [ids.get('up 127.0.9.7')!, 999, unverified] })
        .expect(400);
      expect(refused.body).toEqual({
        error: `change_ids not changes of report ${reportId}: ${[unverified, 999].sort((a, b) => a - b).join(', ')}`,
        field: 'change_ids',
        details: expect.arrayContaining([
          `999: no change of report ${reportId}`,
          `${unverified}: an unverified entry, not a change`,
        ]),
      });
      for (const body of [
        { change_ids: [] },
        { change_ids: null },
        { change_ids: ['x'] },
        { change_ids: [0] },
        { ids: [1] },
      ]) {
        const bad = await api().post(`/api/report/${reportId}/accept`).send(body);
        expect({ body, status: bad.status }).toEqual({ body, status: 400 });
        expect(bad.body.error).toEqual(expect.any(String));
      }
      expect(await acceptedRows()).toEqual(before);
    });

    it("is a 404 for another user's report and accepts nothing", async () => {
      const before = await acceptedRows();
      await api(other)
        .post(`/api/report/${reportId}/accept`)
        .send({})
        .expect(404, { error: 'Report not found' });
      await api(other)
        .post(`/api/report/${reportId}/accept`)
        .send({ change_ids: [ids.get('up 127.0.9.7')!] })
        .expect(404, { error: 'Report not found' });
      await api().post('/api/report/999999/accept').expect(404, { error: 'Report not found' });
      expect(await acceptedRows()).toEqual(before);
    });

    it('accepts every change without a body; a change accepted before keeps its first who and when', async () => {
      const all = await api().post(`/api/report/${reportId}/accept`).expect(200);
      const changeIds = [...ids.entries()]
        .filter(([what]) => !what.startsWith('unverified'))
        .map(([, id]) => id)
        .sort((a, b) => a - b);
      expect(all.body).toMatchObject({
        message: '3 change(s) accepted, 2 already accepted',
        report_id: reportId,
        accepted: 3,
        already_accepted: 2,
      });
      expect(all.body.changes.map((c: { change_id: number }) => c.change_id)).toEqual(changeIds);
      const at = (what: string) =>
        all.body.changes.find((c: { change_id: number }) => c.change_id === ids.get(what)).accepted.at;
      expect(at('added 127.0.9.5 tcp/443')).toBe(firstAt);
      expect(at('removed 127.0.9.5 tcp/80')).toBe(firstAt);
      expect(at('up 127.0.9.7')).not.toBe(firstAt);

      // Again, with `{}`: nothing new; the same who and when.
      const again = await api().post(`/api/report/${reportId}/accept`).send({}).expect(200);
      expect(again.body).toEqual({
        ...all.body,
        message: '0 change(s) accepted, 5 already accepted',
        accepted: 0,
        already_accepted: 5,
      });

      // The report lists each change accepted; the unverified entry is not a change and stays unaccepted.
      const delta = await lists();
      expect(delta.unverified).toEqual([
        expect.objectContaining({ change_id: ids.get('unverified 127.0.9.6'), accepted: null }),
      ]);
      expect(await acceptedRows()).toEqual(
        all.body.changes.map((c: { change_id: number; accepted: { at: string } }) => ({
          change_id: c.change_id,
          by: system.gateway.admin.id,
          by_username: 'admin',
          at: c.accepted.at,
        })),
      );
    });

    it('exports the marks in the CSV: change_id, verification, flapping, exposure, accepted_by, accepted_at', async () => {
      const csv = await api().get(`/api/report/${reportId}/export/csv`).expect(200);
      const rows: string[][] = parse(csv.text, { relax_column_count: true });
      const at = (title: string) => rows.findIndex((r) => r[0] === title);
      const marks = ['change_id', 'verification', 'flapping', 'exposure', 'accepted_by', 'accepted_at'];
      expect(rows[at('Added ports') + 1]).toEqual([
        ...['host', 'protocol', 'port', 'state', 'service', 'product', 'version', 'extrainfo'],
        ...marks,
      ]);
      const added = rows.slice(at('Added ports') + 2, at('Added ports') + 4);
      expect(added.map((r) => [r[0], r[2], ...r.slice(8, 13)])).toEqual([
        [
          '127.0.9.5',
          '443',
          String(ids.get('added 127.0.9.5 tcp/443')),
          '',
          'false',
          '',
          String(system.gateway.admin.id),
        ],
        [
          '127.0.9.7',
          '80',
          String(ids.get('added 127.0.9.7 tcp/80')),
          '',
          'false',
          '',
          String(system.gateway.admin.id),
        ],
      ]);
      expect(added[0][13]).toBe(firstAt);
      expect(rows[at('New up hosts') + 1]).toEqual(['host', 'hostnames', 'open_ports', ...marks]);
      expect(rows[at('Changed services') + 1].slice(-6)).toEqual(marks);
      const unverified = at('Unverified (not looked at by the current run)');
      expect(rows[unverified + 2]).toEqual([
        '127.0.9.6',
        '',
        '',
        'up',
        '',
        'not_targeted',
        String(ids.get('unverified 127.0.9.6')),
        '',
        'false',
        '',
        '',
        '',
      ]);
    });
  });

  describe('expected ports', () => {
    let scanId: number;
    const args = 'nmap -sT -sV -Pn -n -p 22,80,443 -oX - 127.0.9.21 127.0.9.22';

    beforeAll(async () => {
      scanId = await createScan('Exposure', '127.0.9.21 127.0.9.22');
    });

    it('answers 409 while the scan has no completed run, and 404 for another user', async () => {
      const accept = await api().post(`/api/scans/${scanId}/expected/accept-current`).expect(409);
      expect(accept.body).toEqual({ error: `Scan ${scanId} has no completed run yet`, scan_id: scanId });
      await api().get(`/api/scans/${scanId}/exposure`).expect(409);
      await api(other)
        .post(`/api/scans/${scanId}/expected/accept-current`)
        .expect(404, { error: 'Scan not found' });
      await api(other).get(`/api/scans/${scanId}/exposure`).expect(404, { error: 'Scan not found' });
    });

    it('takes the latest run as expected; a port that opens later is unexpected, one that closes missing', async () => {
      const first = await importRun(scanId, args, [
        { address: '127.0.9.21', state: 'up', ports: [port(22, 'open', 'ssh'), port(80, 'open', 'http')] },
        { address: '127.0.9.22', state: 'up', ports: [port(22, 'closed')] },
      ]);
      // Nothing set: nothing is judged.
      const unset = await api().get(`/api/scans/${scanId}/exposure`).expect(200);
      expect(unset.body).toMatchObject({
        scan_id: scanId,
        result_id: first,
        expected_ports: null,
        counts: { expected: 0, unexpected: 0, missing: 0 },
        expected: [],
        unexpected: [],
        missing: [],
        note: expect.stringContaining('No expected ports are set'),
      });

      const accepted = await api().post(`/api/scans/${scanId}/expected/accept-current`).expect(200);
      expect(accepted.body).toEqual({
        message: `Expected ports set from result ${first}`,
        scan_id: scanId,
        result_id: first,
        expected_ports: { '127.0.9.21': ['tcp/22', 'tcp/80'] },
      });
      const scan = await api().get(`/api/scans/${scanId}`).expect(200);
      expect(JSON.stringify(scan.body)).toContain('"expected_ports":{"127.0.9.21":["tcp/22","tcp/80"]}');
      const clean = await api().get(`/api/scans/${scanId}/exposure`).expect(200);
      expect(clean.body).toMatchObject({
        result_id: first,
        expected_ports: { '127.0.9.21': ['tcp/22', 'tcp/80'] },
        counts: { expected: 2, unexpected: 0, missing: 0 },
        unexpected: [],
        missing: [],
      });
      expect(clean.body.note).toBeUndefined();

      // 80 closes and 443 opens on .21; .22 opens 443 too.
      const second = await importRun(scanId, args, [
        {
          address: '127.0.9.21',
          state: 'up',
          ports: [port(22, 'open', 'ssh'), port(80, 'closed'), port(443, 'open', 'https')],
        },
        { address: '127.0.9.22', state: 'up', ports: [port(22, 'closed'), port(443, 'open', 'https')] },
      ]);
      const judged = await api().get(`/api/scans/${scanId}/exposure`).expect(200);
      expect(judged.body).toMatchObject({
        scan_id: scanId,
        result_id: second,
        expected_ports: { '127.0.9.21': ['tcp/22', 'tcp/80'] },
        counts: { expected: 1, unexpected: 2, missing: 1 },
        expected: [{ host: '127.0.9.21', protocol: 'tcp', port: 22, service: 'ssh' }],
        unexpected: [
          { host: '127.0.9.21', protocol: 'tcp', port: 443, service: 'https' },
          { host: '127.0.9.22', protocol: 'tcp', port: 443, service: 'https' },
        ],
        missing: [{ host: '127.0.9.21', protocol: 'tcp', port: 80 }],
      });

      // A port the run did not scan (-p 22,80,443) is never missing: the run cannot tell.
      await api()
        .put(`/api/scans/${scanId}`)
        .send({ expected_ports: { '127.0.9.21': ['tcp/22', 'tcp/80', 'tcp/8443'] } })
        .expect(200);
      const unscanned = await api().get(`/api/scans/${scanId}/exposure`).expect(200);
      expect(unscanned.body.missing).toEqual([{ host: '127.0.9.21', protocol: 'tcp', port: 80 }]);

      // Accepting the new state makes it the expectation.
      const again = await api().post(`/api/scans/${scanId}/expected/accept-current`).expect(200);
      expect(again.body.expected_ports).toEqual({
        '127.0.9.21': ['tcp/22', 'tcp/443'],
        '127.0.9.22': ['tcp/443'],
      });
      const settled = await api().get(`/api/scans/${scanId}/exposure`).expect(200);
      expect(settled.body.counts).toEqual({ expected: 3, unexpected: 0, missing: 0 });
    });
  });
});
