import { MikroORM } from '@mikro-orm/core';
import { Host, Port, ScanResult } from '@nso/persistence/testing';
import { Listener, listenOn } from '../support/listeners';
import { startSystem, TestSystem } from '../support/system';
import { readSse } from '../support/sse-client';
import { openScanSocket } from '../support/ws-client';

// Real gateway, two real worker processes, real nmap against listeners on 127.0.10.0/28 only.
describe('a distributed scan over a /28 of loopback', () => {
  let system: TestSystem;
  let listeners: Listener[];

  beforeAll(async () => {
    system = await startSystem({ database: 'postgresql', workers: 2 });
    listeners = [await listenOn('127.0.10.3'), await listenOn('127.0.10.12')];
  });
  afterAll(async () => {
    await Promise.all(listeners.map((l) => l.close()));
    await system.close();
  });

  const ports = () => listeners.map((l) => l.port).join(',');

  it('answers at once, streams the documented events in order, and stores the open ports', async () => {
    const started = await system.gateway
      .api()
      .post('/api/scans/start')
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', ports()],
        targets: ['127.0.10.0/28'],
        chunk_size: 4,
        concurrency: 2,
      })
      .expect(200);
    expect(started.body).toEqual({ scan_id: expect.any(Number), status: 'started' });
    const scanId: number = started.body.scan_id;

    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    await socket.waitFor((m) => m.event === 'scan_complete');
    socket.close();
    const events = socket.messages;

    expect(events[0]).toEqual({ event: 'connected', scan_id: scanId });
    const scanEvents = events.slice(1);
    const seqs = scanEvents.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs[0]).toBe(1);
    expect(scanEvents.at(-1)).toMatchObject({ event: 'scan_complete', scan_id: scanId });
    expect(scanEvents.filter((e) => e.event === 'scan_complete')).toHaveLength(1);

    for (const batchId of [1, 2, 3, 4]) {
      const ofBatch = scanEvents.filter((e) => e.batch_id === batchId).map((e) => e.event);
      expect(ofBatch[0]).toBe('batch_start');
      expect(ofBatch.at(-1)).toBe('batch_complete');
      expect(ofBatch.filter((e) => e === 'batch_complete')).toHaveLength(1);
      expect(ofBatch.filter((e) => e === 'line').length).toBeGreaterThan(2);
    }
    const starts = scanEvents.filter((e) => e.event === 'batch_start');
    expect(
      starts
        .map((e) => e.targets)
        .flat()
        .sort(),
    ).toEqual(Array.from({ length: 16 }, (_, i) => `127.0.10.${i}`).sort());
    const completes = scanEvents.filter((e) => e.event === 'batch_complete');
    expect(completes.map((e) => e.summary.open_ports).reduce((a, b) => a + b, 0)).toBe(2);
    expect(completes.map((e) => e.summary.hosts_up).reduce((a, b) => a + b, 0)).toBe(16);
    const lines = scanEvents.filter((e) => e.event === 'line' && e.batch_id === 1).map((e) => e.line);
    expect(lines[0]).toMatch(/^Starting Nmap/);
    expect(lines.at(-1)).toMatch(/^Nmap done: 4 IP addresses \(4 hosts up\) scanned/);
    expect(lines.filter((line) => /^Nmap scan report for 127\.0\.10\.\d+$/.test(line))).toHaveLength(4);
    // Progress snapshots of batches finishing at once on two workers may arrive in either order (docs/api.md):
    // the highest one is the run's end. (Those with a batch_id are a running batch's nmap reports.)
    const progress = scanEvents.filter((e) => e.event === 'progress' && e.batch_id === undefined);
    expect(progress).toHaveLength(4);
    expect(progress.map((e) => e.batches_done).sort()).toEqual([1, 2, 3, 4]);
    expect(progress.find((e) => e.batches_done === 4)).toMatchObject({ percent: 100, batches_total: 4 });

    const described = await system.gateway.api().get(`/api/scans/${scanId}`).expect(200);
    expect(described.body.scan).toMatchObject({
      id: scanId,
      status: 'completed',
      progress: { percent: 100, batches_done: 4, batches_failed: 0, batches_total: 4 },
    });

    const em = system.gateway.app.get(MikroORM).em.fork();
    const result = await em.findOneOrFail(ScanResult, { scan: scanId });
    expect(result).toMatchObject({ status: 'completed', batchesDone: 4, hostsUp: 16, openPorts: 2 });
    expect(result.startedAt).toBeInstanceOf(Date);
    expect(result.finishedAt).toBeInstanceOf(Date);
    expect(await em.count(Host, { result: result.id })).toBe(16);
    const open = await em.find(Port, { host: { result: result.id }, state: 'open' }, { populate: ['host'] });
    expect(open.map((p) => `${p.host.address}:${p.protocol}/${p.port}`).sort()).toEqual(
      listeners.map((l) => `${l.host}:tcp/${l.port}`).sort(),
    );
  });

  it('never runs more than `concurrency` batches of one scan at once across workers', async () => {
    const started = await system.gateway
      .api()
      .post('/api/scans/start')
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', ports()],
        targets: ['127.0.10.0/29'],
        chunk_size: 2,
        concurrency: 1,
      })
      .expect(200);
    const socket = await openScanSocket(system.gateway.url, started.body.scan_id, {
      headers: system.gateway.admin.auth,
    });
    await socket.waitFor((m) => m.event === 'scan_complete');
    socket.close();
    let active = 0;
    let peak = 0;
    for (const event of socket.messages) {
      if (event.event === 'batch_start') peak = Math.max(peak, ++active);
      if (event.event === 'batch_complete' || event.event === 'batch_failed') active--;
    }
    expect(socket.messages.filter((m) => m.event === 'batch_start')).toHaveLength(4);
    expect(peak).toBe(1);
  });

  it('replays what a late subscriber missed, then resumes after ?since', async () => {
    const started = await system.gateway
      .api()
      .post('/api/scans/start')
      .send({ nmap_flags: ['-sT', '-Pn', '-n', '-p', ports()], targets: ['127.0.10.0/30'], chunk_size: 2 })
      .expect(200);
    const scanId: number = started.body.scan_id;
    const live = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    await live.waitFor((m) => m.event === 'scan_complete');
    live.close();

    const late = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    await late.waitFor((m) => m.event === 'scan_complete');
    late.close();
    expect(late.messages.slice(1)).toEqual(live.messages.slice(1));

    const since = live.messages[5].seq as number;
    const resumed = await openScanSocket(system.gateway.url, scanId, {
      since: since,
      headers: system.gateway.admin.auth,
    });
    await resumed.waitFor((m) => m.event === 'scan_complete');
    resumed.close();
    expect(resumed.messages[0]).toEqual({ event: 'connected', scan_id: scanId });
    expect(resumed.messages.slice(1)).toEqual(live.messages.filter((m) => m.seq > since));
  });

  it('ends a multiprocessing run with legacy_scan_complete holding one entry per chunk', async () => {
    const started = await system.gateway
      .api()
      .post('/api/scans/start')
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', ports()],
        targets: ['127.0.10.0/29', '127.0.10.12'],
        chunk_size: 3,
        runner: 'multiprocessing',
      })
      .expect(200);
    const socket = await openScanSocket(system.gateway.url, started.body.scan_id, {
      headers: system.gateway.admin.auth,
    });
    const legacy = await socket.waitFor((m) => m.event === 'legacy_scan_complete');
    socket.close();
    expect(legacy.results).toHaveLength(3);
    expect(legacy.results.map((r: { batch_id: number }) => r.batch_id)).toEqual([1, 2, 3]);
    expect(legacy.results[2]).toMatchObject({
      batch_id: 3,
      targets: ['127.0.10.6', '127.0.10.7', '127.0.10.12'],
      status: 'completed',
      exit_code: 0,
      summary: { hosts_up: 3, open_ports: 1 },
    });
    const host12 = legacy.results[2].hosts.find((h: { address: string }) => h.address === '127.0.10.12');
    expect(host12.ports).toContainEqual(
      expect.objectContaining({ protocol: 'tcp', port: listeners[1].port, state: 'open' }),
    );
    expect(socket.messages.some((m) => m.event === 'scan_complete')).toBe(false);
    expect(socket.messages.at(-1)).toBe(legacy);
  });

  it('mirrors the events over SSE with id = seq, resuming after Last-Event-ID', async () => {
    const started = await system.gateway
      .api()
      .post('/api/scans/start')
      .send({ nmap_flags: ['-sT', '-Pn', '-n', '-p', ports()], targets: ['127.0.10.3'] })
      .expect(200);
    const scanId: number = started.body.scan_id;
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    await socket.waitFor((m) => m.event === 'scan_complete');
    socket.close();

    const all = await readSse(
      `${system.gateway.url}/api/scans/${scanId}/events`,
      system.gateway.admin.auth,
      'scan_complete',
    );
    expect(all.map((e) => e.data)).toEqual(socket.messages.slice(1));
    expect(all.map((e) => Number(e.id))).toEqual(socket.messages.slice(1).map((m) => m.seq));
    expect(all.map((e) => e.event)).toEqual(socket.messages.slice(1).map((m) => m.event));

    const resumed = await readSse(
      `${system.gateway.url}/api/scans/${scanId}/events`,
      { ...system.gateway.admin.auth, 'Last-Event-ID': String(all[2].id) },
      'scan_complete',
    );
    expect(resumed.map((e) => e.data)).toEqual(
      socket.messages.slice(1).filter((m) => m.seq > Number(all[2].id)),
    );

    // An EventSource opened on a ?since= URL reconnects to the same URL with Last-Event-ID: the header wins.
    const reconnected = await readSse(
      `${system.gateway.url}/api/scans/${scanId}/events?since=1`,
      { ...system.gateway.admin.auth, 'Last-Event-ID': String(all[3].id) },
      'scan_complete',
    );
    expect(reconnected.map((e) => Number(e.id))).toEqual(
      socket.messages
        .slice(1)
        .filter((m) => m.seq > Number(all[3].id))
        .map((m) => m.seq),
    );

    // A malformed Last-Event-ID is refused naming the header, whether ?since= is valid or absent; a malformed
    // ?since= alone names since.
    for (const [query, header] of [
      ['', 'abc'],
      ['', '-1'],
      ['?since=1', '1e3'],
    ]) {
      const refused = await system.gateway
        .api()
        .get(`/api/scans/${scanId}/events${query}`)
        .set('Last-Event-ID', header)
        .expect(400);
      expect(refused.body).toEqual({ error: 'Last-Event-ID must be a non-negative integer' });
    }
    const badSince = await system.gateway.api().get(`/api/scans/${scanId}/events?since=-1`).expect(400);
    expect(badSince.body).toEqual({ error: 'since must be a non-negative integer' });
    const tooLarge = await system.gateway
      .api()
      .get(`/api/scans/${scanId}/events?since=99999999999999999999`)
      .expect(400);
    expect(tooLarge.body).toEqual({ error: 'since must not be greater than 999999999999999' });
  });

  it('closes a WebSocket with a malformed since or scan id with 4400, naming which', async () => {
    const socket = await openScanSocket(system.gateway.url, 1, {
      since: -1 as number,
      headers: system.gateway.admin.auth,
    });
    expect(await socket.closed).toEqual({ code: 4400, reason: 'since must be a non-negative integer' });
    const tooLarge = await openScanSocket(system.gateway.url, 1, {
      since: '99999999999999999999' as unknown as number,
      headers: system.gateway.admin.auth,
    });
    expect(await tooLarge.closed).toEqual({
      code: 4400,
      reason: 'since must not be greater than 999999999999999',
    });
    const badId = await openScanSocket(system.gateway.url, '01' as unknown as number, {
      headers: system.gateway.admin.auth,
    });
    expect(await badId.closed).toEqual({ code: 4400, reason: 'scan_id must be a positive integer' });
  });

  it('closes a WebSocket for an unknown scan with 4404', async () => {
    const socket = await openScanSocket(system.gateway.url, 999999, { headers: system.gateway.admin.auth });
    expect(await socket.closed).toEqual({ code: 4404, reason: 'Scan not found' });
    expect(socket.messages).toEqual([]);
  });
});
