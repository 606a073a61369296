import { MikroORM } from '@mikro-orm/core';
import { Batch, Host, Port, ScanResult } from '@nso/persistence/testing';
import { createServer, Server, Socket } from 'node:net';
import { freePort } from '../support/processes';
import { parsePrometheusText } from '../support/prometheus-text';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket, WsMessage } from '../support/ws-client';

/** A service on `hosts` × `port` that sends an SSH banner `delayMs` after accepting, or never while `hanging`. */
async function slowService(hosts: string[], port: number, delayMs: number) {
  const sockets = new Set<Socket>();
  const control = { hanging: false };
  const servers: Server[] = [];
  for (const host of hosts) {
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
      if (control.hanging) return;
      setTimeout(() => socket.end('SSH-2.0-OpenSSH_9.6\r\n'), delayMs).unref();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    servers.push(server);
  }
  return {
    control,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

const range = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

// Real gateway, two real worker processes, real nmap against slow services on 127.0.31.0/24 and 127.0.32.0/24.
// BATCH_STALL_SECONDS=4: nmap waiting on a service that never answers reports nothing new for about 7 s.
describe('stalled batches and stragglers', () => {
  let system: TestSystem;
  let metricsUrls: string[];

  beforeAll(async () => {
    system = await startSystem({
      database: 'postgresql',
      workers: 0,
      env: { BATCH_STALL_SECONDS: '4', BATCH_SPLIT_MIN_SECONDS: '1', WORKER_CONCURRENCY: '2' },
    });
    metricsUrls = [];
    for (const id of ['w1', 'w2']) {
      const port = await freePort();
      await system.startWorker(id, { METRICS_PORT: String(port) });
      metricsUrls.push(`http://127.0.0.1:${port}/metrics`);
    }
  });
  afterAll(() => system.close());

  /** A metric summed over both workers. */
  const metric = async (name: string) => {
    let sum = 0;
    for (const url of metricsUrls) {
      const samples = parsePrometheusText(await (await fetch(url)).text());
      sum += samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
    }
    return sum;
  };

  const start = async (body: Record<string, unknown>) => {
    const started = await system.gateway.api().post('/api/scans/start').send(body).expect(200);
    const scanId: number = started.body.scan_id;
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    return { scanId, socket };
  };

  it('stops a batch whose nmap reports no progress, announces it, and retries it to completion', async () => {
    const port = await freePort();
    const service = await slowService(['127.0.32.1'], port, 0);
    try {
      service.control.hanging = true;
      const before = await metric('nso_batches_stalled_total');
      const { scanId, socket } = await start({
        nmap_flags: ['-sT', '-Pn', '-n', '-sV', '--version-intensity', '0', '-p', String(port)],
        targets: ['127.0.32.1'],
        chunk_size: 1,
      });
      await socket.waitFor((m) => m.event === 'batch_stalled', 30_000);
      service.control.hanging = false; // the retry finds the service answering
      await socket.waitFor((m) => m.event === 'scan_complete', 60_000);
      socket.close();

      const ofBatch = socket.messages.filter((m) => m.batch_id === 1 && m.event !== 'line');
      expect(ofBatch.map((m) => m.event)).toEqual([
        'batch_start',
        'batch_stalled',
        'batch_failed',
        'batch_start',
        'batch_complete',
      ]);
      expect(ofBatch[0]).toMatchObject({ attempt: 1 });
      expect(ofBatch[1]).toMatchObject({ attempt: 1, worker: ofBatch[0].worker });
      expect(ofBatch[1].seconds).toBeGreaterThanOrEqual(4);
      expect(ofBatch[2]).toMatchObject({ attempt: 1, will_retry: true, exit_code: null });
      expect(ofBatch[2].error).toMatch(/no progress for \d+ s .*; stopped to be retried$/); // not its last attempt
      expect(ofBatch[3]).toMatchObject({ attempt: 2 });
      expect(ofBatch[4]).toMatchObject({ summary: { hosts_up: 1, open_ports: 1 } });
      expect(await metric('nso_batches_stalled_total')).toBe(before + 1);

      const described = await system.gateway.api().get(`/api/scans/${scanId}`).expect(200);
      expect(described.body.scan).toMatchObject({
        status: 'completed',
        progress: { batches_done: 1, batches_failed: 0, batches_total: 1 },
      });
    } finally {
      await service.close();
    }
  });

  it('splits a straggler: its unreported addresses run as two new batches, every host stored once', async () => {
    // Batch 1: 127.0.31.1-8, nothing listening (fast). Batch 2: 127.0.31.9-16, each a service that answers after
    // 2 s, scanned one host at a time (--max-hostgroup 1): at least 16 s for nmap alone.
    const port = await freePort();
    const slow = range('127.0.31.', 9, 16);
    const service = await slowService(slow, port, 2000);
    try {
      const before = await metric('nso_batches_split_total');
      const flags = ['-sT', '-Pn', '-n', '-sV', '--version-intensity', '0', '--max-hostgroup', '1'];
      const { scanId, socket } = await start({
        nmap_flags: [...flags, '-p', String(port)],
        targets: range('127.0.31.', 1, 16),
        chunk_size: 8,
        concurrency: 2,
      });
      await socket.waitFor((m) => m.event === 'scan_complete', 60_000);
      socket.close();
      const events = socket.messages.filter((m) => m.event !== 'line');
      const named = (event: string) => events.filter((m) => m.event === event);

      const [split] = named('batch_split');
      expect(named('batch_split')).toHaveLength(1);
      expect(split).toMatchObject({ batch_id: 2, batch_ids: [3, 4] });
      expect(split.hosts_reported + split.targets_requeued).toBe(8);
      expect(split.targets_requeued).toBeGreaterThanOrEqual(2);
      const startsOf = (id: number) => named('batch_start').filter((m: WsMessage) => m.batch_id === id);
      const requeued = [...startsOf(3), ...startsOf(4)].flatMap((m) => m.targets as string[]);
      expect(requeued).toHaveLength(split.targets_requeued);
      expect(requeued.every((address) => slow.includes(address))).toBe(true);
      // The straggler's batch_complete (what it had reported) follows its batch_split; the run ends once.
      const seqOf = (m: WsMessage | undefined) => m?.seq ?? Infinity;
      expect(seqOf(split)).toBeLessThan(seqOf(named('batch_complete').find((m) => m.batch_id === 2)));
      expect(
        named('batch_complete')
          .map((m) => m.batch_id)
          .sort(),
      ).toEqual([1, 2, 3, 4]);
      expect(named('scan_complete')).toHaveLength(1);
      expect(events.at(-1)).toMatchObject({ event: 'scan_complete' });
      expect(named('progress').find((m) => m.batches_done === 4)).toMatchObject({
        percent: 100,
        batches_total: 4,
      });
      expect(await metric('nso_batches_split_total')).toBe(before + 1);

      const em = system.gateway.app.get(MikroORM).em.fork();
      const result = await em.findOneOrFail(ScanResult, { scan: scanId });
      expect(result).toMatchObject({ status: 'completed', batchesTotal: 4, batchesDone: 4, hostsUp: 16 });
      const hosts = await em.find(Host, { result: result.id });
      expect(hosts.map((h) => h.address).sort()).toEqual(range('127.0.31.', 1, 16).sort());
      const open = await em.find(
        Port,
        { host: { result: result.id }, state: 'open' },
        { populate: ['host'] },
      );
      expect(open.map((p) => p.host.address).sort()).toEqual([...slow].sort());
      const batches = await em.find(Batch, { result: result.id }, { orderBy: { seq: 'asc' } });
      expect(batches.map((b) => [b.seq, b.status])).toEqual([
        [1, 'completed'],
        [2, 'completed'],
        [3, 'completed'],
        [4, 'completed'],
      ]);
      // Sooner than without the split: batch 2 alone needs its 8 slow hosts one after the other, each at least as
      // long as a slow host took in the new batches (measured here, so a busy machine moves both sides alike);
      // the halves ran side by side. (Measured: 13.5 s with the split, 18.4 s with BATCH_SPLIT=false.)
      const seconds = (b: Batch) => (b.finishedAt!.getTime() - b.startedAt!.getTime()) / 1000;
      const perSlowHost = Math.min(...batches.slice(2).map((b) => seconds(b) / b.targets.length));
      const runSeconds = (result.finishedAt!.getTime() - result.startedAt!.getTime()) / 1000;
      expect(runSeconds).toBeLessThan(8 * perSlowHost);

      const page = await system.gateway.api().get(`/api/results/${result.id}/batches`).expect(200);
      expect(page.body.batches.map((b: { batch_id: number }) => b.batch_id)).toEqual([1, 2, 3, 4]);
      expect(page.body.batches[2].targets).toEqual(startsOf(3)[0].targets);
      // The straggler's row keeps the addresses it covered, the new batches the rest: each address in one row, so
      // the summary and the run's progress count the run's 16 addresses once.
      const rows = page.body.batches as Array<{ targets: string[] }>;
      expect(rows[1].targets).toHaveLength(split.hosts_reported);
      expect(rows.flatMap((b) => b.targets).sort()).toEqual(range('127.0.31.', 1, 16).sort());
      const results = await system.gateway.api().get(`/api/results/${result.id}`).expect(200);
      expect(results.body.summary).toMatchObject({ total_targets: 16, completed_targets: 16 });
      expect(results.body.progress).toMatchObject({ hosts_done: 16, hosts_total: 16, percent: 100 });
    } finally {
      await service.close();
    }
  });

  it('does not split a batch before its nmap reported a host (-sV holds back a slow host group)', async () => {
    // Batch 1: 127.0.33.1-8, nothing listening (fast). Batch 2: 127.0.33.9-16, its first address a service that
    // answers after 3 s: with -sV nmap reports none of the host group until the service scan of the slow one ends.
    // Splitting then (the rest of the run done, an idle worker) would keep nothing of what nmap did, and each half
    // would start over on the slow host.
    const port = await freePort();
    const service = await slowService(['127.0.33.9'], port, 3000);
    try {
      const before = await metric('nso_batches_split_total');
      const { scanId, socket } = await start({
        nmap_flags: ['-sT', '-Pn', '-n', '-sV', '--version-intensity', '0', '-p', String(port)],
        targets: range('127.0.33.', 1, 16),
        chunk_size: 8,
        concurrency: 2,
      });
      await socket.waitFor((m) => m.event === 'scan_complete', 60_000);
      socket.close();
      const events = socket.messages.filter((m) => m.event !== 'line');
      expect(events.filter((m) => m.event === 'batch_split')).toEqual([]);
      expect(
        events
          .filter((m) => m.event === 'batch_complete')
          .map((m) => m.batch_id)
          .sort(),
      ).toEqual([1, 2]);
      expect(await metric('nso_batches_split_total')).toBe(before);
      const em = system.gateway.app.get(MikroORM).em.fork();
      const result = await em.findOneOrFail(ScanResult, { scan: scanId });
      expect(result).toMatchObject({ status: 'completed', batchesTotal: 2, batchesDone: 2, hostsUp: 16 });
      const open = await em.find(
        Port,
        { host: { result: result.id }, state: 'open' },
        { populate: ['host'] },
      );
      expect(open.map((p) => p.host.address)).toEqual(['127.0.33.9']);
    } finally {
      await service.close();
    }
  });

  it('documents both events in the OpenAPI document', async () => {
    const document = await system.gateway.api().get('/api/docs-json').expect(200);
    const { BatchStalledEventDto, BatchSplitEventDto } = document.body.components.schemas;
    expect(Object.keys(BatchStalledEventDto.properties).sort()).toEqual(
      ['attempt', 'batch_id', 'event', 'seconds', 'worker'].sort(),
    );
    expect(Object.keys(BatchSplitEventDto.properties).sort()).toEqual(
      ['batch_id', 'batch_ids', 'event', 'hosts_reported', 'targets_requeued', 'worker'].sort(),
    );
  });
});
