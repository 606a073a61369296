import { MikroORM } from '@mikro-orm/core';
import { DELTA_QUEUE, redisKeys } from '@nso/contracts';
import { deltaJobId, redisOptionsFromUrl } from '@nso/events';
import { DeltaReport, insertDeltaReport, knexOf } from '@nso/persistence/testing';
import { Queue } from 'bullmq';
import { parse } from 'csv-parse/sync';
import * as yauzl from 'yauzl';
import { deltaChangeRows, diffResults, scanOptionsOf, summarizeDelta } from '@nso/delta';
import { TEST_DATABASES } from '../support/database';
import { TestUser } from '../support/gateway';
import { Listener, listenOn } from '../support/listeners';
import { nmapServiceName, nmapXml } from '../support/nmap-xml';
import { waitUntil } from '../support/nmap-processes';
import { AppProcess, startProcess } from '../support/processes';
import { testRedisUrl } from '../support/redis';
import { readSse } from '../support/sse-client';
import { openSse } from '../support/sse-stream';
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
  let closingPort: number;
  let scanId: number;
  const runs: number[] = [];

  const api = (user?: TestUser) => system.gateway.api(user);
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
    closingPort = closing.port;
    // The port that opens between the runs: taken now, released for the first run.
    const probe = await listenOn('127.0.40.2');
    openingPort = probe.port;
    await probe.close();
    const created = await api()
      .post('/api/scans')
      .send({
        verify_changes: false,
        name: 'Delta lab',
        target: '127.0.40.1, 127.0.40.2',
        ports: [stayOpen.port, closingPort, openingPort].join(','),
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
    // The scan's owner is told on the notification stream too.
    const stream = await openSse(`${system.gateway.url}/api/stream`, system.gateway.admin.auth);
    const second = await executeRun();
    const event = await socket.waitFor((m) => m.event === 'delta_report', 30_000);
    socket.close();
    const told = await stream.waitFor(
      (e) => /changed: 1 new ports, 1 closed ports/.test(String((e.data as { message?: string })?.message)),
      10_000,
    );
    stream.close();
    expect(told.data).toEqual({
      message: expect.stringMatching(
        /^Scan "Delta lab" \(#\d+\) changed: 1 new ports, 1 closed ports \(report \d+\)$/,
      ),
      type: 'warning',
    });

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
    // delta_data keeps the small parts; the lists are change rows of their own, served back by the API.
    const data = report.deltaData as { delta: Record<string, unknown>; baseline: object; current: object };
    expect(data.delta).toEqual({ comparable: true, differences: [] });
    const changeRows = await knexOf(system.gateway.app.get(MikroORM).em)('delta_changes')
      .where('report_id', report.id)
      .orderBy('seq')
      .select('seq', 'kind', 'address', 'port');
    expect(changeRows).toEqual([
      { seq: 1, kind: 'added_port', address: '127.0.40.2', port: openingPort },
      { seq: 2, kind: 'removed_port', address: '127.0.40.1', port: closingPort },
    ]);
    const shown = await api().get(`/api/report/${report.id}?include_data=true`).expect(200);
    expect(shown.body.delta_data.delta).toMatchObject({
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
    // The SSE mirror carries it too (replayed from the event log).
    const sse = await readSse(
      `${system.gateway.url}/api/scans/${scanId}/events?since=${event.seq - 1}`,
      system.gateway.admin.auth,
      'delta_report',
    );
    expect(sse.at(-1)).toMatchObject({
      event: 'delta_report',
      data: { report_id: report.id, seq: event.seq },
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

  it('serves the reports exactly as seed 003 documents them, to their owner only', async () => {
    const other = await system.gateway.newUser(`other-${database}`);
    const [changed, unchanged] = await reportRows();

    const list = await api().get(`/api/scan/${scanId}/reports`).expect(200);
    expect(list.body).toEqual({
      reports: [expect.any(Object), expect.any(Object)],
      total: 2,
      pages: 1,
      current_page: 1,
      per_page: 10,
      has_next: false,
      has_prev: false,
    });
    expect(list.body.reports[0]).toEqual({
      id: unchanged.id,
      scan_id: scanId,
      baseline_result_id: runs[1],
      current_result_id: runs[2],
      report_type: 'delta',
      status: 'generated',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      new_ports_count: 0,
      closed_ports_count: 0,
      changed_services_count: 0,
      new_hosts_count: 0,
      removed_hosts_count: 0,
      has_changes: false,
      confirmed_new_ports_count: 0,
      confirmed_closed_ports_count: 0,
      confirmed_changed_services_count: 0,
      confirmed_new_hosts_count: 0,
      confirmed_removed_hosts_count: 0,
      flapping_count: 0,
      verification: { status: null, result_id: null },
    });
    const onlyChanges = await api()
      .get(`/api/scan/${scanId}/reports?only_changes=true&per_page=1`)
      .expect(200);
    expect(onlyChanges.body).toMatchObject({ total: 1, pages: 1, per_page: 1, has_next: false });
    expect(onlyChanges.body.reports.map((r: { id: number }) => r.id)).toEqual([changed.id]);
    const paged = await api().get(`/api/scan/${scanId}/reports?page=2&per_page=1`).expect(200);
    expect(paged.body).toMatchObject({
      total: 2,
      pages: 2,
      current_page: 2,
      has_next: false,
      has_prev: true,
    });

    const plain = await api().get(`/api/report/${changed.id}`).expect(200);
    expect(plain.body).toMatchObject({ id: changed.id, new_ports_count: 1, closed_ports_count: 1 });
    expect(plain.body).not.toHaveProperty('delta_data');
    const full = await api().get(`/api/report/${changed.id}?include_data=true`).expect(200);
    expect(Object.keys(full.body.delta_data).sort()).toEqual([
      'baseline',
      'current',
      'delta',
      'scanner',
      'summary',
    ]);
    expect(full.body.delta_data.delta.added_ports).toHaveLength(1);

    const summary = await api().get(`/api/scan/${scanId}/summary`).expect(200);
    expect(summary.body).toMatchObject({
      scan_id: scanId,
      days: 30,
      total_reports: 2,
      reports_with_changes: 1,
      summary: {
        total_new_ports: 1,
        total_closed_ports: 1,
        total_changed_services: 0,
        total_new_hosts: 0,
        total_removed_hosts: 0,
      },
      trend: {
        most_active_hosts: expect.arrayContaining([
          { host: '127.0.40.1', change_count: 1 },
          { host: '127.0.40.2', change_count: 1 },
        ]),
        most_changed_ports: expect.arrayContaining([{ port: openingPort, protocol: 'tcp', change_count: 1 }]),
      },
    });
    expect(Date.parse(summary.body.period_end) - Date.parse(summary.body.period_start)).toBe(30 * 86_400_000);

    const mine = await api().get('/api/user/reports?per_page=1').expect(200);
    expect(mine.body.pagination).toEqual({
      page: 1,
      per_page: 1,
      total_items: 2,
      total_pages: 2,
      has_next: true,
      has_prev: false,
    });
    expect((await api(other).get('/api/user/reports').expect(200)).body).toMatchObject({
      reports: [],
      pagination: { total_items: 0 },
    });

    // Another user's scan or report is not found.
    for (const path of [
      `/api/scan/${scanId}/reports`,
      `/api/scan/${scanId}/summary`,
      `/api/report/${changed.id}`,
      `/api/report/${changed.id}/export/csv`,
      `/api/scan/${scanId}/export-all`,
    ]) {
      const response = await api(other).get(path).expect(404);
      expect(response.body.error).toMatch(/^(Scan|Report) not found$/);
    }
    await api(other).delete(`/api/report/${changed.id}`).expect(404);
    await api().get('/api/report/999999').expect(404, { error: 'Report not found' });
    await api().get('/api/scan/999999/reports').expect(404, { error: 'Scan not found' });

    // Bad values are 400s that name them.
    for (const [path, name] of [
      [`/api/scan/${scanId}/reports?per_page=101`, 'per_page'],
      [`/api/scan/${scanId}/reports?per_page=0`, 'per_page'],
      [`/api/scan/${scanId}/reports?page=abc`, 'page'],
      [`/api/scan/${scanId}/reports?only_changes=maybe`, 'only_changes'],
      [`/api/user/reports?page=-1`, 'page'],
      [`/api/report/${changed.id}?include_data=yes`, 'include_data'],
      [`/api/scan/${scanId}/summary?days=0`, 'days'],
      [`/api/scan/${scanId}/summary?days=1.5`, 'days'],
      ['/api/scan/abc/reports', 'scan_id'],
      ['/api/report/0', 'report_id'],
    ]) {
      const response = await api().get(path).expect(400);
      expect(JSON.stringify(response.body)).toContain(name);
    }

    // Deleted: gone from the lists, and a second delete is a 404.
    await api()
      .delete(`/api/report/${unchanged.id}`)
      .expect(200, { message: 'Delta report deleted successfully' });
    await api().delete(`/api/report/${unchanged.id}`).expect(404);
    expect((await api().get(`/api/scan/${scanId}/reports`).expect(200)).body.total).toBe(1);
  });

  it('exports CSV that a CSV parser reads back with formula-like banners neutralised, and a ZIP of every report', async () => {
    // A report whose service banner reads like a spreadsheet formula, stored as the delta service stores one.
    const em = system.gateway.app.get(MikroORM).em;
    const run = (product: string) => ({
      options: scanOptionsOf(['-sT', '-sV', '-p22']),
      coverage: { scanned: new Set(['127.0.40.1']), failed: new Set<string>() },
      hosts: [
        {
          address: '127.0.40.1',
          state: 'up',
          ports: [{ protocol: 'tcp', port: 22, state: 'open', service: 'ssh', product }],
        },
      ],
    });
    const delta = diffResults(run('OpenSSH'), run('=HYPERLINK("http://127.0.0.1/x","click")'));
    const summary = summarizeDelta(delta);
    const id = await insertDeltaReport(
      knexOf(em),
      {
        scan_id: scanId,
        baseline_result_id: runs[0],
        current_result_id: runs[2],
        new_ports_count: summary.new_ports_count,
        closed_ports_count: summary.closed_ports_count,
        changed_services_count: summary.changed_services_count,
        new_hosts_count: summary.new_hosts_count,
        removed_hosts_count: summary.removed_hosts_count,
        has_changes: summary.has_changes,
        delta_data: {
          scanner: {},
          baseline: {},
          current: {},
          delta: { comparable: delta.comparable, differences: delta.differences },
          summary,
        },
      },
      deltaChangeRows(delta),
    );
    const stored = { id: id! };

    const csv = await api().get(`/api/report/${stored.id}/export/csv`).expect(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toMatch(
      new RegExp(`attachment; filename="delta_report_\\d{8}_\\d{6}_${stored.id}\\.csv"`),
    );
    const rows: string[][] = parse(csv.text, { relax_column_count: true });
    expect(rows[0]).toEqual(['Delta report', String(stored.id)]);
    const changed = rows.findIndex((r) => r[0] === 'Changed services');
    expect(rows[changed]).toEqual(['Changed services', '1']);
    expect(rows[changed + 2]).toEqual([
      '127.0.40.1',
      'tcp',
      '22',
      'product',
      'ssh',
      'OpenSSH',
      '',
      '',
      'ssh',
      `'=HYPERLINK("http://127.0.0.1/x","click")`,
      '',
      '',
      // Its marks (issue 21): change_id, verification, flapping, exposure, accepted_by, accepted_at.
      ...['1', '', 'false', '', '', ''],
    ]);

    const zip = await api()
      .get(`/api/scan/${scanId}/export-all`)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(zip.headers['content-type']).toBe('application/zip');
    const entries = await readZip(zip.body as Buffer);
    const reports = await reportRows();
    expect(entries.map((e) => e.name)).toEqual(
      reports.map((r) => expect.stringMatching(new RegExp(`^delta_report_\\d{8}_\\d{6}_${r.id}\\.csv$`))),
    );
    const inZip = entries.find((e) => e.name.endsWith(`_${stored.id}.csv`))!;
    expect(inZip.text).toBe(csv.text);
  });

  it('imports an nmap XML as a completed run and diffs it against the last scanned run; refuses bad files, storing nothing', async () => {
    const ports = [stayOpen.port, closingPort, openingPort].join(',');
    const args = `nmap -sT -Pn -n -p ${ports} -oX - 127.0.40.1 127.0.40.2 127.0.40.3`;
    const xml = nmapXml(args, [
      {
        address: '127.0.40.1',
        state: 'up',
        ports: [
          { protocol: 'tcp', port: stayOpen.port, state: 'open', service: nmapServiceName(stayOpen.port) },
        ],
      },
      {
        address: '127.0.40.2',
        state: 'up',
        ports: [{ protocol: 'tcp', port: openingPort, state: 'closed' }],
      },
      {
        address: '127.0.40.3',
        state: 'up',
        ports: [
          { protocol: 'tcp', port: stayOpen.port, state: 'open', service: nmapServiceName(stayOpen.port) },
        ],
      },
    ]);
    const runCount = async () =>
      (await api().get(`/api/scans/${scanId}/results?per_page=100`).expect(200)).body.total as number;
    const before = await runCount();

    const bad: Array<[string, string, number, RegExp]> = [
      ['application/xml', '<nmaprun><host>', 400, /truncated|malformed/],
      ['application/xml', xml.slice(0, xml.length / 2), 400, /truncated|malformed/],
      ['application/xml', '<?xml version="1.0"?><nmaprun><host></nmaprun>', 400, /malformed/],
      [
        'application/xml',
        xml.replace('<!DOCTYPE nmaprun>', '<!DOCTYPE nmaprun [<!ENTITY a "aaaa">]>'),
        400,
        /entity|DOCTYPE/,
      ],
      [
        'text/xml',
        xml.replace('<!DOCTYPE nmaprun>', '<!DOCTYPE nmaprun SYSTEM "http://127.0.0.1:9/x.dtd">'),
        400,
        /DOCTYPE/,
      ],
      ['application/xml', xml.replace('addr="127.0.40.3"', 'addr="10.0.0.1"'), 400, /scope/],
      ['application/json', '{}', 415, /application\/xml/],
    ];
    for (const [type, body, status, error] of bad) {
      const response = await api()
        .post(`/api/scans/${scanId}/results/import`)
        .set('Content-Type', type)
        .send(body)
        .expect(status);
      expect(response.body.error).toMatch(error);
    }
    const outside = await api()
      .post(`/api/scans/${scanId}/results/import`)
      .set('Content-Type', 'application/xml')
      .send(xml.replace('addr="127.0.40.3"', 'addr="10.0.0.1"'))
      .expect(400);
    expect(outside.body.out_of_scope).toEqual(['10.0.0.1']);
    const other = await system.gateway.newUser(`importer-${database}`);
    await api(other)
      .post(`/api/scans/${scanId}/results/import`)
      .set('Content-Type', 'application/xml')
      .send(xml)
      .expect(404);
    expect(await runCount()).toBe(before);

    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    const imported = await api()
      .post(`/api/scans/${scanId}/results/import`)
      .set('Content-Type', 'application/xml')
      .send(xml)
      .expect(201);
    expect(imported.body).toMatchObject({
      status: 'success',
      result_id: expect.any(Number),
      summary: { hosts: 3, hosts_up: 3, open_ports: 2 },
    });
    const resultId = imported.body.result_id as number;
    const event = await socket.waitFor((m) => m.event === 'delta_report' && m.current_result_id === resultId);
    socket.close();
    expect(event.baseline_result_id).toBe(runs[2]);

    const report = await api().get(`/api/report/${event.report_id}?include_data=true`).expect(200);
    expect(report.body.delta_data.current).toMatchObject({ result_id: resultId, trigger: 'import' });
    expect(report.body.delta_data.delta).toMatchObject({
      new_up_hosts: [{ host: '127.0.40.3' }],
      new_down_hosts: [],
      added_ports: [{ host: '127.0.40.3', protocol: 'tcp', port: stayOpen.port }],
      removed_ports: [{ host: '127.0.40.2', protocol: 'tcp', port: openingPort, state: 'closed' }],
      changed_ports: [],
      comparable: true,
    });
  });

  it('queues, when the delta service starts, the diff of a completed run whose job was lost', async () => {
    await delta.stop('SIGKILL');
    const lost = await executeRun();
    const queue = new Queue(DELTA_QUEUE, {
      connection: redisOptionsFromUrl(testRedisUrl()),
      prefix: redisKeys(system.env.REDIS_PREFIX).bullPrefix,
    });
    try {
      const job = await queue.getJob(deltaJobId(lost));
      expect(job?.data).toEqual({ scanId, resultId: lost });
      await job!.remove();
      expect(await queue.getJob(deltaJobId(lost))).toBeUndefined();
    } finally {
      await queue.close();
    }
    delta = await startDelta();
    await delta.waitForOutput(/backfill: \d+ completed run\(s\) without a report queued/);
    await waitUntil(
      async () => (await reportRows()).some((r) => r.currentResult.id === lost),
      30_000,
      'the report of the run whose job was lost',
    );
  });

  it('announces a stored report whose announcement was owed: by the job retried, and by the start-up sweep', async () => {
    await delta.stop('SIGKILL');
    const [first, second] = [await executeRun(), await executeRun()];
    const queue = new Queue(DELTA_QUEUE, {
      connection: redisOptionsFromUrl(testRedisUrl()),
      prefix: redisKeys(system.env.REDIS_PREFIX).bullPrefix,
    });
    const knex = knexOf(system.gateway.app.get(MikroORM).em);
    try {
      for (const run of [first, second]) await (await queue.getJob(deltaJobId(run)))?.remove();
      // What a job leaves when Redis failed, or the process died, right after the report was stored: the report,
      // its announcement owed. One stored two minutes ago (the job ran out of retries), one just now.
      const counts = {
        new_ports_count: 1,
        closed_ports_count: 0,
        changed_services_count: 0,
        new_hosts_count: 0,
        removed_hosts_count: 0,
        has_changes: true,
      };
      const baseline = runs[runs.indexOf(first) - 1];
      // The change they hold (a report is announced for the changes it has; not verified: they count).
      const added = {
        seq: 1,
        kind: 'added_port',
        address: '127.0.40.2',
        protocol: 'tcp',
        port: openingPort,
        before: null,
        after: { state: 'open' },
        detail: null,
      };
      const old = await insertDeltaReport(
        knex,
        {
          scan_id: scanId,
          baseline_result_id: baseline,
          current_result_id: first,
          ...counts,
          delta_data: {},
          created_at: new Date(Date.now() - 120_000),
          announced_at: null,
        },
        [added],
      );
      const recent = await insertDeltaReport(
        knex,
        {
          scan_id: scanId,
          baseline_result_id: first,
          current_result_id: second,
          ...counts,
          delta_data: {},
          announced_at: null,
        },
        [added],
      );
      const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
      try {
        delta = await startDelta();
        await delta.waitForOutput(/announced 1 report\(s\) whose announcement was owed/);
        // The recent one is left to its job (within the sweep's grace): here, the job's retry.
        await queue.add('diff-result', { scanId, resultId: second }, { jobId: `retry-${second}` });
        const reported = async (reportId: number) =>
          socket.waitFor((m) => m.event === 'delta_report' && m.report_id === reportId, 30_000);
        expect(await reported(old!)).toMatchObject({ current_result_id: first, summary: counts });
        expect(await reported(recent!)).toMatchObject({
          baseline_result_id: first,
          current_result_id: second,
        });
        await waitUntil(
          async () =>
            (await knex('delta_reports').whereIn('id', [old!, recent!]).whereNull('announced_at')).length ===
            0,
          10_000,
          'both reports marked announced',
        );
        const announced = socket.messages.filter(
          (m) => m.event === 'delta_report' && [old, recent].includes(m.report_id),
        );
        expect(announced).toHaveLength(2);
      } finally {
        socket.close();
      }
    } finally {
      await queue.close();
    }
  });
});
/** Every entry of a ZIP, read with yauzl. */
function readZip(buffer: Buffer): Promise<Array<{ name: string; text: string }>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buffer, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return reject(error);
      const entries: Array<{ name: string; text: string }> = [];
      zip.on('error', reject);
      zip.on('end', () => resolve(entries));
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return reject(err);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            entries.push({ name: entry.fileName, text: Buffer.concat(chunks).toString('utf8') });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}
