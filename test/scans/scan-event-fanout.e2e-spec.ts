// Many subscribers of one scan on one gateway: every WebSocket and SSE subscriber gets every event once, in seq
// order, byte for byte what was published, however the gateway gathers them into writes; the delivered counter
// counts them; and a subscriber that stops reading is dropped (counted) instead of being buffered for.
import { ScanEvent, ScanEventBody } from '@nso/contracts';
import { ScanEventPublisher } from '@nso/events';
import { Metrics } from '@nso/monitoring';
import { randomBytes } from 'node:crypto';
import { connect, Socket } from 'node:net';
import WebSocket from 'ws';
import { startGateway, TestGateway } from '../support/gateway';
import { sseEvents } from '../support/sse-client';
import { openScanSocket, RecordedSocket } from '../support/ws-client';

/** ws's frame parser (exported by ws, not described by @types/ws): events `message` and `conclude` (close code). */
interface FrameReceiver {
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'conclude', listener: (code: number) => void): void;
  write(chunk: Buffer): void;
}
const Receiver = (WebSocket as unknown as { Receiver: new (options: object) => FrameReceiver }).Receiver;

const line = (text: string): ScanEventBody => ({ event: 'line', batch_id: 1, line: text });

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('scan event fan-out', () => {
  let system: TestGateway;
  let publisher: ScanEventPublisher;
  let metrics: Metrics;

  beforeAll(async () => {
    system = await startGateway();
    publisher = system.app.get(ScanEventPublisher);
    metrics = system.app.get(Metrics);
  });

  afterAll(async () => {
    await system?.close();
  });

  const newScan = async (name: string): Promise<number> => {
    const created = await system
      .api()
      .post('/api/scans')
      .send({ verify_changes: false, name, target: '127.0.0.1', ports: '1', scan_arguments: '-sT -Pn -n' })
      .expect(201);
    return created.body.scan.id;
  };
  const counter = async (metric: 'scanEventsDelivered' | 'subscribersDropped', transport: string) =>
    (await metrics[metric].get()).values.find((v) => v.labels.transport === transport)?.value ?? 0;

  /** An SSE subscriber of the scan collecting events until it has `count` lines (or the deadline passes). */
  async function sseLines(scanId: number, count: number): Promise<{ done: Promise<ScanEvent[]> }> {
    const abort = new AbortController();
    const response = await fetch(`${system.url}/api/scans/${scanId}/events`, {
      headers: { Accept: 'text/event-stream', ...system.admin.auth },
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const timer = setTimeout(() => abort.abort(), 60_000);
    const done = (async () => {
      const events: ScanEvent[] = [];
      try {
        for await (const event of sseEvents(response.body!)) {
          if (event.comment !== undefined) continue;
          const data = event.data as ScanEvent;
          expect(event.id).toBe(String(data.seq));
          expect(event.event).toBe(data.event);
          events.push(data);
          // Leaving the loop would wait on the body's cancellation; aborting ends the stream at once.
          if (events.length >= count) abort.abort();
        }
      } catch (error) {
        if (events.length < count) throw error;
      } finally {
        clearTimeout(timer);
      }
      return events;
    })();
    return { done };
  }

  it('gives 20 WebSocket and 5 SSE subscribers every event once, in order, whatever its size', async () => {
    const scanId = await newScan('fan-out');
    // Frame payload lengths of every RFC 6455 form: 7-bit, 16-bit (126..65535) and 64-bit (65536 and up).
    const texts = [
      ...Array.from({ length: 1_500 }, (_, i) => `L${i} ${'x'.repeat(i % 40)}`),
      'é'.repeat(100), // multi-byte UTF-8: the frame length is in bytes
      'y'.repeat(70_000),
      ...Array.from({ length: 498 }, (_, i) => `M${i}`),
    ];
    const sockets: RecordedSocket[] = [];
    for (let i = 0; i < 20; i++)
      sockets.push(await openScanSocket(system.url, scanId, { headers: system.admin.auth }));
    const streams = await Promise.all(Array.from({ length: 5 }, () => sseLines(scanId, texts.length)));
    const deliveredBefore = {
      websocket: await counter('scanEventsDelivered', 'websocket'),
      sse: await counter('scanEventsDelivered', 'sse'),
    };

    // In bursts of different sizes, as workers publish the lines of one stdout read.
    let sent = 0;
    for (const size of [1, 7, 300, 1, 1, 50, 1_000, 640]) {
      await publisher.publishMany({ scanId, resultId: 1 }, texts.slice(sent, sent + size).map(line));
      sent += size;
    }
    expect(sent).toBe(texts.length);

    const expected = texts.map((text, index) => ({ seq: index + 1, text }));
    for (const socket of sockets) {
      await socket.waitFor((m) => m.event === 'line' && m.seq === texts.length, 30_000);
      const lines = socket.messages.filter((m) => m.event === 'line');
      expect(lines.map((m) => ({ seq: m.seq, text: m.line }))).toEqual(expected);
      expect(socket.messages[0]).toEqual({ event: 'connected', scan_id: scanId });
      socket.close();
    }
    for (const stream of streams) {
      const events = await stream.done;
      expect(events.map((e) => ({ seq: e.seq, text: e.event === 'line' ? e.line : null }))).toEqual(expected);
    }
    expect((await counter('scanEventsDelivered', 'websocket')) - deliveredBefore.websocket).toBe(
      20 * texts.length,
    );
    expect((await counter('scanEventsDelivered', 'sse')) - deliveredBefore.sse).toBe(5 * texts.length);
  });

  /** A WebSocket subscriber over a raw socket, so that the test decides when it reads. */
  async function rawSubscriber(scanId: number): Promise<{ socket: Socket; greeting: Buffer }> {
    const { port } = new URL(system.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `GET /ws/scans/${scanId} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
        `Authorization: ${system.admin.auth.Authorization}\r\n\r\n`,
    );
    let received = Buffer.alloc(0);
    await until(async () => {
      const chunk = socket.read() as Buffer | null;
      if (chunk) received = Buffer.concat([received, chunk]);
      return received.includes('"connected"');
    }, 'the WebSocket greeting');
    return { socket, greeting: received };
  }

  it('drops a WebSocket subscriber that stops reading, with close code 4408 after what was queued', async () => {
    const scanId = await newScan('slow websocket');
    const droppedBefore = await counter('subscribersDropped', 'websocket');
    const { socket, greeting } = await rawSubscriber(scanId);
    expect(greeting.toString('latin1')).toContain('101 Switching Protocols');
    socket.pause();
    // 1 MB a publish until the gateway gives up on it: its own 16 MB bound plus what the kernel buffers.
    const chunk = Array.from({ length: 250 }, (_, i) => line(`${i} ${'z'.repeat(4_000)}`));
    const deadline = Date.now() + 60_000;
    while ((await counter('subscribersDropped', 'websocket')) === droppedBefore && Date.now() < deadline) {
      await publisher.publishMany({ scanId, resultId: 1 }, chunk);
    }
    expect(await counter('subscribersDropped', 'websocket')).toBe(droppedBefore + 1);

    // Reading again, the client gets what was queued, then the close frame saying why.
    const receiver = new Receiver({ isServer: false, skipUTF8Validation: false });
    const closed = new Promise<number>((resolve) => receiver.on('conclude', (code) => resolve(code)));
    let lines = 0;
    receiver.on('message', (data) => {
      if (data.includes('"line"')) lines++;
    });
    const head = greeting.subarray(greeting.indexOf('\r\n\r\n') + 4);
    receiver.write(head);
    socket.on('data', (data) => receiver.write(data));
    socket.resume();
    expect(await closed).toBe(4408);
    expect(lines).toBeGreaterThan(1_000);
    socket.destroy();
  });

  it('drops an SSE subscriber that stops reading', async () => {
    const scanId = await newScan('slow sse');
    const droppedBefore = await counter('subscribersDropped', 'sse');
    const { port } = new URL(system.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `GET /api/scans/${scanId}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n` +
        `Authorization: ${system.admin.auth.Authorization}\r\n\r\n`,
    );
    const head = await new Promise<string>((resolve) => socket.once('data', (data) => resolve(String(data))));
    expect(head).toContain('200 OK');
    socket.pause();
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const chunk = Array.from({ length: 250 }, (_, i) => line(`${i} ${'z'.repeat(4_000)}`));
    const deadline = Date.now() + 60_000;
    while ((await counter('subscribersDropped', 'sse')) === droppedBefore && Date.now() < deadline) {
      await publisher.publishMany({ scanId, resultId: 1 }, chunk);
    }
    expect(await counter('subscribersDropped', 'sse')).toBe(droppedBefore + 1);
    socket.resume();
    await ended; // the gateway ended the connection: the client reconnects with Last-Event-ID
  });
});
