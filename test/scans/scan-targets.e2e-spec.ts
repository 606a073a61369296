import { MikroORM } from '@mikro-orm/core';
import { Batch, Host, Port, ScanResult } from '@nso/persistence/testing';
import { TEST_DATABASES } from '../support/database';
import { Listener, listenOn } from '../support/listeners';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket, WsMessage } from '../support/ws-client';

// Issue 8, B.6–B.8 and E.15, with a real gateway, a real worker and real nmap, on both databases. Only
// loopback is scanned: 127.0.0.1 (localhost) and 127.0.15.x, with a listener on 127.0.15.5.
describe.each(TEST_DATABASES)('what a run scans and counts, on %s', (database) => {
  let system: TestSystem;
  let listener: Listener;

  beforeAll(async () => {
    system = await startSystem({ database, workers: 1 });
    listener = await listenOn('127.0.15.5');
  });
  afterAll(async () => {
    await listener?.close();
    await system?.close();
  });

  const orm = () => system.gateway.app.get(MikroORM).em.fork();

  async function runToEnd(
    body: object,
    end = 'scan_complete',
  ): Promise<{ scanId: number; events: WsMessage[] }> {
    const started = await system.gateway.api().post('/api/scans/start').send(body).expect(200);
    const scanId: number = started.body.scan_id;
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    await socket.waitFor((m) => m.event === end, 60_000);
    socket.close();
    return { scanId, events: socket.messages.slice(1) };
  }

  it('scans each address once and every summary equals what is stored (B.7), names kept once (B.8)', async () => {
    const { scanId, events } = await runToEnd(
      {
        // No -n: nmap looks up 127.0.0.1's PTR name too, which is how "localhost" used to appear twice.
        nmap_flags: ['-sT', '-Pn', '-p', String(listener.port)],
        targets: ['127.0.15.5', 'localhost', '127.0.15.5'],
        chunk_size: 1,
        runner: 'multiprocessing',
      },
      'legacy_scan_complete',
    );

    // localhost was resolved once, at submission: the batches hand nmap addresses, each address in one batch.
    const starts = events.filter((e) => e.event === 'batch_start');
    expect(starts.map((e) => [e.batch_id, e.targets]).sort()).toEqual([
      [1, ['127.0.0.1']],
      [2, ['127.0.15.5']],
    ]);
    const reports = events.filter((e) => e.event === 'line' && /^Nmap scan report for /.test(e.line));
    // Batches run side by side: their lines interleave in any order.
    const lines = reports.map((e) => e.line);
    expect(lines).toHaveLength(2);
    expect(lines).toContain('Nmap scan report for 127.0.15.5');
    expect(lines).toContainEqual(expect.stringMatching(/^Nmap scan report for (\S+ \()?127\.0\.0\.1\)?$/));

    const em = orm();
    const result = await em.findOneOrFail(ScanResult, { scan: scanId });
    const batches = await em.find(Batch, { result: result.id }, { orderBy: { seq: 'asc' } });
    const hosts = await em.find(Host, { result: result.id }, { populate: ['ports'] });
    const openOf = (hs: Host[]) => hs.flatMap((h) => h.ports.getItems()).filter((p) => p.state === 'open');
    expect(hosts.map((h) => h.address).sort()).toEqual(['127.0.0.1', '127.0.15.5']);
    expect(openOf(hosts).map((p) => p.port)).toEqual([listener.port]);
    expect(await em.count(Port, { host: { result: result.id } })).toBe(2);

    // Each batch's summary (event and row) equals the hosts and ports stored for that batch.
    const completes = events.filter((e) => e.event === 'batch_complete');
    expect(completes).toHaveLength(2);
    for (const batch of batches) {
      const stored = hosts.filter((h) => h.batch.id === batch.id);
      const summary = {
        hosts_up: stored.filter((h) => h.state === 'up').length,
        open_ports: openOf(stored).length,
      };
      expect(stored).toHaveLength(1);
      expect({ hosts_up: batch.hostsUp, open_ports: batch.openPorts }).toEqual(summary);
      expect(completes.find((e) => e.batch_id === batch.seq)?.summary).toEqual(summary);
    }
    // The run's counters are the sums: 2 hosts up and 1 open port, as stored.
    expect(result).toMatchObject({
      targetsTotal: 2,
      batchesTotal: 2,
      batchesDone: 2,
      hostsUp: 2,
      openPorts: 1,
    });

    // The name the user gave is the host's name of type "user", once, ahead of anything nmap found itself.
    const localhost = hosts.find((h) => h.address === '127.0.0.1') as Host;
    expect(localhost.hostnames[0]).toEqual({ name: 'localhost', type: 'user' });
    const names = localhost.hostnames.map((n) => n.name);
    expect(new Set(names).size).toBe(names.length);
    expect(hosts.find((h) => h.address === '127.0.15.5')?.hostnames).toEqual([]);

    const legacy = events.at(-1) as WsMessage;
    expect(legacy.event).toBe('legacy_scan_complete');
    const legacyHosts = legacy.results.flatMap((r: WsMessage) => r.hosts);
    expect(legacyHosts.find((h: WsMessage) => h.address === '127.0.0.1').hostnames).toEqual(
      localhost.hostnames.map((n) => ({ name: n.name, type: n.type ?? null })),
    );
    expect(legacy.results.map((r: WsMessage) => [r.batch_id, r.summary])).toEqual([
      [1, { hosts_up: 1, open_ports: 0 }],
      [2, { hosts_up: 1, open_ports: 1 }],
    ]);
  });

  it('merges overlapping CIDRs, ranges and wildcards before cutting batches', async () => {
    const { scanId, events } = await runToEnd({
      nmap_flags: ['-sT', '-Pn', '-n', '-p', String(listener.port)],
      targets: ['127.0.15.0/30', '127.0.15.2-5', '127.0.15.1,3', '127.0.15.4'],
      chunk_size: 4,
    });
    const scanned = events.filter((e) => e.event === 'batch_start').flatMap((e) => e.targets);
    expect(scanned).toEqual([
      '127.0.15.0',
      '127.0.15.1',
      '127.0.15.2',
      '127.0.15.3',
      '127.0.15.4',
      '127.0.15.5',
    ]);
    const result = await orm().findOneOrFail(ScanResult, { scan: scanId });
    expect(result).toMatchObject({ targetsTotal: 6, batchesTotal: 2, hostsUp: 6, openPorts: 1 });
  });

  it('starts a scan from project_id and targets alone, with the documented defaults (E.15)', async () => {
    const { scanId, events } = await runToEnd({ targets: ['127.0.15.5'] });
    expect(events.filter((e) => e.event === 'batch_complete')).toHaveLength(1);
    const described = await system.gateway.api().get(`/api/scans/${scanId}`).expect(200);
    expect(described.body.scan).toMatchObject({
      nmap_flags: ['-T4', '-Pn'],
      runner: 'asyncio',
      chunk_size: 256,
      concurrency: 6,
      status: 'completed',
    });
  });
});
