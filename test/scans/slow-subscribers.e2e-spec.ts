// Issue 20 point 3: a subscriber that cannot keep up is dropped, not buffered for without bound, during a real scan
// that prints tens of thousands of lines. A WebSocket client and an SSE client that stop reading are dropped
// (close 4408 / `event: dropped`) once more than SUBSCRIBER_MAX_BUFFERED_KIB (64 here) is queued for them; the scan
// completes and a subscriber that keeps up gets every event; afterwards the run's log is still readable from where
// each dropped client stopped, within the newest EVENT_LOG_MAX events (?since= and Last-Event-ID).
import type { ScanEvent } from '@nso/contracts';
import { Metrics } from '@nso/monitoring';
import { randomBytes } from 'node:crypto';
import { connect, Socket } from 'node:net';
import WebSocket from 'ws';
import { Listener, listenOn } from '../support/listeners';
import { readSse } from '../support/sse-client';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

/** ws's frame parser (exported by ws, not described by @types/ws): events `message` and `conclude` (close code). */
interface FrameReceiver {
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'conclude', listener: (code: number, reason: Buffer) => void): void;
  write(chunk: Buffer): void;
}
const Receiver = (WebSocket as unknown as { Receiver: new (options: object) => FrameReceiver }).Receiver;

const TARGET = '127.9.0.0/19';
const HOSTS = 8192;
const EVENT_LOG_MAX = 2000;
const TERMINAL = ['scan_complete', 'scan_failed', 'scan_stopped'];

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A raw HTTP connection to the gateway that has sent `request` and read the answer's head; then paused. */
async function pausedClient(
  url: string,
  request: string,
  headEnd: string,
): Promise<{ socket: Socket; head: Buffer }> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(request);
  let head = Buffer.alloc(0);
  await until(
    () => {
      const chunk = socket.read() as Buffer | null;
      if (chunk) head = Buffer.concat([head, chunk]);
      return head.includes(headEnd);
    },
    'the answer head',
    30_000,
  );
  socket.pause();
  return { socket, head };
}

/** Reads the socket again, handing `onData` everything it still delivers, until `done` says so or it closes. */
function readAgain(socket: Socket, first: Buffer, onData: (chunk: Buffer) => boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    const finish = () => {
      socket.destroy();
      resolve();
    };
    socket.once('close', () => resolve());
    if (onData(first)) return finish();
    socket.on('data', (chunk: Buffer) => {
      if (onData(chunk)) finish();
    });
    socket.resume();
  });
}

/** The body of a chunked HTTP response (RFC 9112 §7.1), and whether its last chunk (size 0) arrived. */
function dechunk(raw: Buffer): { body: Buffer; ended: boolean } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) return { body: Buffer.concat(parts), ended: false };
    const size = parseInt(raw.toString('latin1', at, lineEnd), 16);
    if (size === 0) return { body: Buffer.concat(parts), ended: true };
    if (lineEnd + 2 + size + 2 > raw.length) return { body: Buffer.concat(parts), ended: false };
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

describe('slow scan event subscribers', () => {
  let system: TestSystem;
  let listener: Listener;

  beforeAll(async () => {
    system = await startSystem({
      workers: 1,
      env: {
        SUBSCRIBER_MAX_BUFFERED_KIB: '64',
        EVENT_LOG_MAX: String(EVENT_LOG_MAX),
        RATE_LIMIT_ENABLED: 'false',
      },
    });
    listener = await listenOn('127.9.0.10');
  });

  afterAll(async () => {
    await listener?.close();
    await system?.close();
  });

  it('drops a WebSocket and an SSE subscriber that stop reading; the scan and a fast subscriber go on; the log stays readable', async () => {
    const { gateway } = system;
    const metrics = gateway.app.get(Metrics);
    const dropped = async (transport: string) =>
      (await metrics.subscribersDropped.get()).values.find((v) => v.labels.transport === transport)?.value ??
      0;
    const droppedBefore = { websocket: await dropped('websocket'), sse: await dropped('sse') };
    const auth = gateway.admin.auth.Authorization;
    const created = await gateway
      .api()
      .post('/api/scans')
      .send({
        verify_changes: false,
        name: 'slow subscribers',
        target: TARGET,
        ports: String(listener.port),
        scan_arguments: '-sT -Pn -n --max-retries 0 --min-rate 5000',
        chunk_size: 4096,
        concurrency: 2,
      })
      .expect(201);
    const scanId: number = created.body.scan.id;

    const slowWs = await pausedClient(
      gateway.url,
      `GET /ws/scans/${scanId} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
        `Authorization: ${auth}\r\n\r\n`,
      '"connected"',
    );
    const slowSse = await pausedClient(
      gateway.url,
      `GET /api/scans/${scanId}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n` +
        `Authorization: ${auth}\r\n\r\n`,
      '\r\n\r\n',
    );
    const fast = await openScanSocket(gateway.url, scanId, { headers: gateway.admin.auth });

    const executed = await gateway.api().get(`/api/scans/${scanId}/execute`).expect(200);
    const resultId: number = executed.body.result_id;

    // Both slow clients are dropped while the scan runs.
    await until(
      async () =>
        (await dropped('websocket')) > droppedBefore.websocket && (await dropped('sse')) > droppedBefore.sse,
      'both slow subscribers to be dropped',
    );
    // Reading again at once (within the 30 s a dropped client is given), both get what was queued for them: the
    // WebSocket client then the close frame 4408, the SSE client `event: dropped` naming the last seq written and
    // the end of the response.
    const receiver = new Receiver({ isServer: false });
    const wsEvents: ScanEvent[] = [];
    let close: { code: number; reason: string } | undefined;
    receiver.on('message', (data) => wsEvents.push(JSON.parse(data.toString('utf8'))));
    receiver.on('conclude', (code, reason) => (close = { code, reason: reason.toString() }));
    const wsDone = readAgain(
      slowWs.socket,
      slowWs.head.subarray(slowWs.head.indexOf('\r\n\r\n') + 4),
      (chunk) => {
        receiver.write(chunk);
        return close !== undefined;
      },
    );
    let raw = slowSse.head.subarray(slowSse.head.indexOf('\r\n\r\n') + 4);
    let sse = dechunk(raw);
    const sseDone = readAgain(slowSse.socket, Buffer.alloc(0), (chunk) => {
      raw = Buffer.concat([raw, chunk]);
      sse = dechunk(raw);
      return sse.ended;
    });
    await Promise.all([wsDone, sseDone]);
    expect(close).toEqual({ code: 4408, reason: 'Client too slow' });
    const wsRead = wsEvents.slice(1); // after `connected`
    expect(wsRead.length).toBeGreaterThan(0);
    expect(wsRead.map((e) => e.seq)).toEqual(wsRead.map((_, index) => index + 1));

    expect(sse.ended).toBe(true); // the response ended (its last chunk)
    const body = sse.body.toString('utf8');
    const ids = [...body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual(ids.map((_, index) => index + 1));
    const last = /event: dropped\ndata: (.*)\n\n$/.exec(body);
    expect(last).not.toBeNull();
    expect(JSON.parse(last![1])).toEqual({
      event: 'dropped',
      code: 4408,
      reason: 'Client too slow',
      seq: ids[ids.length - 1],
    });

    // The scan went on and completed; the subscriber that kept up has every event, in order.
    const complete = await fast.waitFor((m) => TERMINAL.includes(m.event), 300_000);
    expect(complete).toMatchObject({ event: 'scan_complete', result_id: resultId });
    const all = fast.messages.slice(1) as ScanEvent[];
    expect(all.map((e) => e.seq)).toEqual(all.map((_, index) => index + 1));
    expect(all.filter((e) => e.event === 'line').length).toBeGreaterThan(5 * HOSTS);
    const lastSeq = complete.seq as number;
    expect(wsRead[wsRead.length - 1].seq).toBeLessThan(lastSeq);
    expect(ids[ids.length - 1]).toBeLessThan(lastSeq);
    fast.close();
    const run = await gateway.api().get(`/api/results/${resultId}?per_page=1`).expect(200);
    expect(run.body.result.status).toBe('completed');
    expect(run.body.summary).toMatchObject({ hosts_up: HOSTS, total_open_ports: 1 });

    // Afterwards: from where each stopped, what the log holds (its newest EVENT_LOG_MAX events), in order.
    const oldestKept = lastSeq - EVENT_LOG_MAX + 1;
    const expectedAfter = (seen: number) =>
      all.filter((e) => e.seq > Math.max(seen, oldestKept - 1)).map((e) => JSON.stringify(e));
    const since = wsRead[wsRead.length - 1].seq;
    const resumed = await openScanSocket(gateway.url, scanId, { since, headers: gateway.admin.auth });
    await resumed.waitFor((m) => m.seq === lastSeq);
    expect(resumed.messages.slice(1).map((m) => JSON.stringify(m))).toEqual(expectedAfter(since));
    resumed.close();
    const sseSeen = ids[ids.length - 1];
    const replay = await readSse(
      `${gateway.url}/api/scans/${scanId}/events`,
      { ...gateway.admin.auth, 'Last-Event-ID': String(sseSeen) },
      (event) => event.id === String(lastSeq),
    );
    expect(replay.filter((e) => e.comment === undefined).map((e) => JSON.stringify(e.data))).toEqual(
      expectedAfter(sseSeen),
    );
  }, 400_000);
});
