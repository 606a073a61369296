import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_DATABASES } from '../support/database';
import { Listener, listenOn } from '../support/listeners';
import { waitUntil } from '../support/nmap-processes';
import { AppProcess, startProcess } from '../support/processes';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket, type WsMessage } from '../support/ws-client';

// Issue 21 end to end on real listeners, real nmap (127.0.42.0/29 only), real gateway, worker and delta processes,
// and a real webhook receiver on 127.0.0.1: a change is announced once a rescan confirmed it; a flap (the listener
// back before the rescan) is never announced, nor undone by the next run; a port toggling every run is named
// flapping and kept quiet until it holds a state; a rescan that fails leaves the change unverifiable.

/** Webhook deliveries received on 127.0.0.1. */
async function startReceiver() {
  const bodies: Array<{
    path: string;
    report_id: number;
    text: string;
    changes: Array<Record<string, unknown>>;
  }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push({ path: req.url ?? '', ...JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * An nmap that fails a confirmation rescan (its `-pT:` port list) while `failFlag` exists, and runs the real nmap
 * otherwise; it prints its arguments first, so a run's `line` events show what nmap was handed.
 */
function writeRescanShim() {
  const dir = mkdtempSync(join(tmpdir(), 'nso-rescan-shim-'));
  const path = join(dir, 'nmap');
  const failFlag = join(dir, 'fail-rescans');
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      'echo "nmap argv: $*"',
      `if [ -e ${failFlag} ]; then for a in "$@"; do case "$a" in -pT:*) echo "rescan refused" >&2; exit 1;; esac; done; fi`,
      'exec /usr/bin/nmap "$@"',
      '',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  return { path, failFlag, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

describe.each(TEST_DATABASES)('verified changes on %s', (database) => {
  let system: TestSystem;
  let delta: AppProcess;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let shim: ReturnType<typeof writeRescanShim>;
  const listeners = new Map<string, Listener>();
  const ports: Record<'steady' | 'opening' | 'flap' | 'toggle' | 'expected' | 'unexpected', number> = {
    steady: 0,
    opening: 0,
    flap: 0,
    toggle: 0,
    expected: 0,
    unexpected: 0,
  };
  const hostOf = {
    steady: '127.0.42.1',
    opening: '127.0.42.2',
    flap: '127.0.42.3',
    toggle: '127.0.42.4',
    expected: '127.0.42.5',
    unexpected: '127.0.42.5',
  };
  let scanId: number;

  const api = () => system.gateway.api();
  const open = async (name: keyof typeof ports) => {
    listeners.set(name, await listenOn(hostOf[name], ports[name]));
  };
  const close = async (name: keyof typeof ports) => {
    await listeners.get(name)?.close();
    listeners.delete(name);
  };
  /** Runs the scan once; returns its result id and the report made of it (null for none). */
  const run = async () => {
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    try {
      const executed = await api().get(`/api/scans/${scanId}/execute`).expect(200);
      const resultId = executed.body.result_id as number;
      await socket.waitFor((m) => m.result_id === resultId && m.event === 'scan_complete', 60_000);
      await delta.waitForOutput(
        new RegExp(`report \\d+: result ${resultId} against|result ${resultId} is the first`),
      );
      const reports = await api().get(`/api/scan/${scanId}/reports?per_page=50`).expect(200);
      const report = (reports.body.reports as Array<{ id: number; current_result_id: number }>).find(
        (r) => r.current_result_id === resultId,
      );
      return { resultId, reportId: report?.id ?? null };
    } finally {
      socket.close();
    }
  };
  const report = async (id: number) =>
    (await api().get(`/api/report/${id}?include_data=true`).expect(200)).body as WsMessage;
  /** Waits until the report's verification ended (its rescan ran, or could not). */
  const verified = async (id: number) => {
    await waitUntil(
      async () => (await report(id)).verification.status === 'done',
      60_000,
      `report ${id} verified`,
    );
    return report(id);
  };
  let events: Awaited<ReturnType<typeof openScanSocket>>;
  /** The scan's `delta_report` events so far (one socket open for the whole suite). */
  const deltaEvents = () => events.messages.filter((m) => m.event === 'delta_report');

  beforeAll(async () => {
    shim = writeRescanShim();
    system = await startSystem({
      database,
      workers: 1,
      env: { WEBHOOK_ALLOW: '127.0.0.0/8', NMAP_PATH: shim.path, BATCH_ATTEMPTS: '1' },
    });
    delta = startProcess('delta', { ...system.env, WORKER_ID: 'delta-verify' });
    await delta.waitForOutput(/delta service ready/);
    receiver = await startReceiver();
    await api().post('/api/webhooks').send({ url: receiver.url }).expect(201);
    for (const name of Object.keys(ports) as Array<keyof typeof ports>) {
      const probe = await listenOn(hostOf[name]);
      ports[name] = probe.port;
      await probe.close();
    }
    await open('steady');
    await open('flap');
    const created = await api()
      .post('/api/scans')
      .send({
        name: 'Verified lab',
        target: [...new Set(Object.values(hostOf))].join(', '),
        ports: Object.values(ports).join(','),
        scan_arguments: '-sT -Pn -n',
        verify_delay_seconds: 2,
        flap_window: 3,
        flap_threshold: 2,
      })
      .expect(201);
    scanId = created.body.scan.id;
    expect(created.body.scan).toMatchObject({
      verify_changes: true,
      verify_delay_seconds: 2,
      flap_window: 3,
    });
    events = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    expect((await run()).reportId).toBeNull();
  });
  afterAll(async () => {
    events?.close();
    await Promise.all([...listeners.values()].map((l) => l.close()));
    await receiver?.close();
    await delta?.stop('SIGKILL');
    await system?.close();
    shim?.remove();
  });

  it('announces a port that opened and stays open once its rescan confirmed it, and only then', async () => {
    await open('opening');
    const { reportId } = await run();
    expect(reportId).not.toBeNull();
    // Stored pending: nothing announced before the rescan.
    const pending = await report(reportId!);
    expect(pending.verification.status).toBe('pending');
    expect(receiver.bodies).toEqual([]);

    const done = await verified(reportId!);
    expect(done).toMatchObject({ new_ports_count: 1, confirmed_new_ports_count: 1, flapping_count: 0 });
    expect(done.delta_data.delta.added_ports).toEqual([
      expect.objectContaining({
        host: hostOf.opening,
        port: ports.opening,
        verification: 'confirmed',
        flapping: false,
        verification_result_id: done.verification.result_id,
      }),
    ]);
    // The rescan is a run of its own (trigger verify) of exactly the changed host and port.
    const rescanId = done.verification.result_id as number;
    const rescan = await api().get(`/api/results/${rescanId}`).expect(200);
    expect(rescan.body.result).toMatchObject({
      trigger: 'verify',
      status: 'completed',
      targets: [hostOf.opening],
      nmap_flags: expect.arrayContaining(['-sT', '-Pn', '-n']),
    });
    expect(rescan.body.result.nmap_flags.join(' ')).toContain(`T:${ports.opening}`);

    await waitUntil(() => receiver.bodies.length === 1, 30_000, 'a webhook delivery');
    expect(receiver.bodies[0]).toMatchObject({ path: '/hook', report_id: reportId });
    expect(receiver.bodies[0].text).toMatch(/: 1 port opened, 0 ports closed,/);
    expect(receiver.bodies[0].changes).toEqual([
      expect.objectContaining({ kind: 'added_port', port: ports.opening, verification: 'confirmed' }),
    ]);
    await waitUntil(
      () => deltaEvents().some((e) => e.report_id === reportId),
      10_000,
      'the delta_report event',
    );
    expect(deltaEvents().find((e) => e.report_id === reportId)).toMatchObject({
      confirmed: { new_ports_count: 1 },
      verification: { status: 'done', result_id: rescanId },
    });
  });

  it('does not announce a listener that was gone for one run and back before the rescan, nor its return', async () => {
    // A rule that asks for unconfirmed changes hears of this one; the default rule does not.
    const unconfirmedRule = await api()
      .post('/api/webhooks')
      .send({ url: `${receiver.url}/unconfirmed`, include_unconfirmed: true })
      .expect(201);
    const delivered = receiver.bodies.length;
    await close('flap');
    const { reportId } = await run();
    await open('flap'); // back within the 2 s before the rescan
    const done = await verified(reportId!);
    expect(done).toMatchObject({ closed_ports_count: 1, confirmed_closed_ports_count: 0 });
    expect(done.delta_data.delta.removed_ports).toEqual([
      expect.objectContaining({ host: hostOf.flap, port: ports.flap, verification: 'not_confirmed' }),
    ]);
    await delta.waitForOutput(new RegExp(`report ${reportId}: not announced`));
    await waitUntil(
      () => receiver.bodies.length === delivered + 1,
      30_000,
      'the include_unconfirmed delivery',
    );
    expect(receiver.bodies.at(-1)).toMatchObject({ path: '/hook/unconfirmed', report_id: reportId });
    expect(receiver.bodies.at(-1)!.changes).toEqual([
      expect.objectContaining({ kind: 'removed_port', port: ports.flap, verification: 'not_confirmed' }),
    ]);
    await api().delete(`/api/webhooks/${unconfirmedRule.body.id}`).expect(200);
    // The next run sees the listener as the rescan did: no change, no report with changes.
    const next = await run();
    expect((await report(next.reportId!)).has_changes).toBe(false);
    expect(receiver.bodies).toHaveLength(delivered + 1);
    expect(deltaEvents().some((e) => e.report_id === reportId)).toBe(false);
  });

  it('leaves a change unverifiable when its rescan fails, and does not announce it', async () => {
    const delivered = receiver.bodies.length;
    writeFileSync(shim.failFlag, '');
    try {
      await close('opening');
      const { reportId } = await run();
      const done = await verified(reportId!);
      expect(done.delta_data.delta.removed_ports).toEqual([
        expect.objectContaining({ port: ports.opening, verification: 'unverifiable' }),
      ]);
      const rescan = await api().get(`/api/results/${done.verification.result_id}`).expect(200);
      expect(rescan.body.result).toMatchObject({ trigger: 'verify', status: 'failed' });
      await delta.waitForOutput(new RegExp(`report ${reportId}: not announced`));
      expect(receiver.bodies).toHaveLength(delivered);
    } finally {
      rmSync(shim.failFlag, { force: true });
    }
    expect(existsSync(shim.failFlag)).toBe(false);
  });

  it('names a port that toggles every run flapping, keeps it quiet, and announces it again once it held a state', async () => {
    await api().put(`/api/scans/${scanId}`).send({ verify_changes: false }).expect(200);
    const delivered = receiver.bodies.length;
    const toggled: WsMessage[] = [];
    // open, closed, open: two changes within three runs → flapping.
    for (const step of ['open', 'close', 'open', 'close'] as const) {
      if (step === 'open') await open('toggle');
      else await close('toggle');
      const { reportId } = await run();
      toggled.push(await report(reportId!));
    }
    // The first change (opened) is announced; from the second (two changes in three runs) on the port flaps.
    expect(toggled.map((r) => r.flapping_count)).toEqual([0, 1, 1, 1]);
    expect(toggled[2].delta_data.delta.added_ports).toEqual([
      expect.objectContaining({ port: ports.toggle, flapping: true }),
    ]);
    await waitUntil(() => receiver.bodies.length === delivered + 1, 30_000, 'the first toggle delivery');
    expect(receiver.bodies.slice(delivered).map((b) => b.changes.map((c) => c.kind))).toEqual([
      ['added_port'],
    ]);
    // Closed for two runs in a row: stable. Its next change is announced.
    await run();
    await run();
    await open('toggle');
    const back = await run();
    expect(await report(back.reportId!)).toMatchObject({ flapping_count: 0, new_ports_count: 1 });
    await waitUntil(() => receiver.bodies.length === delivered + 2, 30_000, 'the delivery after it held');
    expect(receiver.bodies.at(-1)!.changes).toEqual([
      expect.objectContaining({ kind: 'added_port', port: ports.toggle }),
    ]);

    const history = await api()
      .get(`/api/hosts/${hostOf.toggle}/ports/tcp/${ports.toggle}/history`)
      .expect((r) => expect([200, 404]).toContain(r.status));
    if (history.status === 200) expect(JSON.stringify(history.body)).toContain('open');
  });

  it('sends a rule on unexpected ports only the ports the scan does not expect', async () => {
    const unexpectedOnly = await api()
      .post('/api/webhooks')
      .send({ url: `${receiver.url}/unexpected`, exposures: ['unexpected'] })
      .expect(201);
    expect(unexpectedOnly.body).toMatchObject({ exposures: ['unexpected'], include_unconfirmed: false });
    await api()
      .put(`/api/scans/${scanId}`)
      .send({ expected_ports: { [hostOf.expected]: [`tcp/${ports.expected}`] } })
      .expect(200);
    const delivered = receiver.bodies.length;
    await open('expected');
    await open('unexpected');
    const { reportId } = await run();
    const shown = await report(reportId!);
    expect(
      (shown.delta_data.delta.added_ports as WsMessage[]).map((p) => [p.port, p.exposure]).sort(),
    ).toEqual(
      [
        [ports.expected, 'expected'],
        [ports.unexpected, 'unexpected'],
      ].sort(),
    );
    await waitUntil(() => receiver.bodies.length === delivered + 2, 30_000, 'both rules delivered');
    const bodies = receiver.bodies.slice(delivered);
    const ports_ = (b: (typeof bodies)[number]) => b.changes.map((c) => c.port).sort();
    expect(bodies.map(ports_).sort((a, b) => b.length - a.length)).toEqual([
      [ports.expected, ports.unexpected].sort(),
      [ports.unexpected],
    ]);
  });

  it('refuses what no route takes: a null setting, unknown parameters and fields', async () => {
    const nulled = await api().put(`/api/scans/${scanId}`).send({ verify_delay_seconds: null }).expect(400);
    expect(nulled.body).toMatchObject({
      error: 'verify_delay_seconds must not be null',
      field: 'verify_delay_seconds',
    });
    await api().get(`/api/scans/${scanId}/exposure?foo=1`).expect(400);
    await api().post(`/api/scans/${scanId}/expected/accept-current`).send({ foo: 1 }).expect(400);
    await api().get(`/api/hosts/${hostOf.steady}?foo=1`).expect(400);
    const flap = await api()
      .put(`/api/scans/${scanId}`)
      .send({ flap_window: 3, flap_threshold: 3 })
      .expect(400);
    expect(flap.body.error).toBe('flap_threshold (3) must be smaller than flap_window (3)');
  });

  it('does not rescan the changes of a scan deactivated before its rescan: they stay unverifiable', async () => {
    await api().put(`/api/scans/${scanId}`).send({ verify_changes: true }).expect(200);
    const rescans = async () =>
      JSON.stringify((await api().get(`/api/scans/${scanId}/results?per_page=100`).expect(200)).body).split(
        '"trigger":"verify"',
      ).length - 1;
    const before = await rescans();
    expect(before).toBeGreaterThan(0);
    await close('steady'); // open since the first run: a change, not a flap
    const { reportId } = await run();
    await api().delete(`/api/scans/${scanId}`).expect(200); // within the 2 s before the rescan
    await delta.waitForOutput(
      new RegExp(`report ${reportId}: changes left unverifiable: the scan is inactive`),
    );
    const done = await verified(reportId!);
    expect(done.verification.result_id).toBeNull();
    expect(done.delta_data.delta.removed_ports).toEqual([
      expect.objectContaining({ port: ports.steady, verification: 'unverifiable' }),
    ]);
    expect(await rescans()).toBe(before);
  });
});
