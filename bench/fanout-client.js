// A worker thread of the `fanout` benchmark (plain CommonJS, so it runs without ts-node): it holds its share of
// the scan's subscribers, WebSocket (a minimal reader of RFC 6455 frames, or the `ws` client) and SSE (a plain
// HTTP response), and checks every `line` event it receives: counted per subscriber, its line number must be the
// one after the last (none lost, none twice, none out of order), and every SAMPLE_EVERY-th line's latency is taken: arrival − the publish time written into
// the line (`L<n> <ms since the epoch>`, performance.timeOrigin + performance.now() on both sides: one clock).
//
// It reads only what the check needs (the `L<n> <time>` text of each line event) instead of parsing the JSON of
// every message: 600 subscribers of 20,000 lines are 12 million messages, and the client shares the machine's
// two cores with the gateways it measures.
//
// Messages: in {type: 'open', ...} → out {type: 'ready'} (every subscriber has its greeting);
// in {type: 'progress'} → out {type: 'progress', received}; in {type: 'finish'} → out {type: 'result', ...}.
'use strict';
const { parentPort } = require('node:worker_threads');
const { createHash, randomBytes } = require('node:crypto');
const { request } = require('node:http');
const WebSocket = require('ws');

/** A `line` event's text starts `L<n> ` right after `"line":"`; no byte before it in the event's JSON is an `L`. */
const L = 0x4c;

/** Where the line number of the event in bytes[start, end) starts (past `"line":"L`), or -1. One memchr. */
function lineAt(bytes, start, end) {
  const at = bytes.indexOf(L, start);
  if (at < 0 || at >= end || bytes[at - 1] !== 34 /* " */ || bytes[at - 2] !== 58 /* : */) return -1;
  return at + 1;
}
const now = () => performance.timeOrigin + performance.now();

const subscribers = [];
let latencies = new Float64Array(1 << 16);
let samples = 0;
let sampleEvery = 10;

/** One latency sample: pairs of (publish time, latency) in ms. */
function sample(publishedAt, ms) {
  if (samples + 2 > latencies.length) {
    const grown = new Float64Array(latencies.length * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[samples++] = publishedAt;
  latencies[samples++] = ms;
}

/** Checks one `line` event whose text starts at `at` in `bytes` (just past `"line":"L`). */
function lineEvent(subscriber, bytes, at, recvAt) {
  let n = 0;
  let index = at;
  for (let c = bytes[index]; c >= 48 && c <= 57; c = bytes[++index]) n = n * 10 + (c - 48);
  subscriber.received++;
  if (n !== subscriber.next) subscriber.outOfOrder++;
  subscriber.next = n + 1;
  if (n % sampleEvery === 0) {
    let end = index + 1;
    while (bytes[end] !== 34 /* " */) end++;
    const publishedAt = Number(bytes.toString('latin1', index + 1, end));
    sample(publishedAt, recvAt - publishedAt);
  }
}

function newSubscriber() {
  const subscriber = { received: 0, next: 0, outOfOrder: 0, droppedByServer: false, closing: false };
  subscribers.push(subscriber);
  return subscriber;
}

function openWs(baseUrl, scanId, headers) {
  const subscriber = newSubscriber();
  const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws/scans/${scanId}`, {
    headers,
    perMessageDeflate: false,
    // The check reads ASCII only; validating 12 million UTF-8 payloads would be the client's cost, not the system's.
    skipUTF8Validation: true,
  });
  subscriber.close = () => {
    subscriber.closing = true;
    socket.terminate();
  };
  socket.on('close', () => (subscriber.droppedByServer ||= !subscriber.closing));
  socket.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    socket.once('message', () => {
      // `connected`: the subscription is in place.
      socket.on('message', (data) => {
        const recvAt = now();
        const at = lineAt(data, 0, data.length);
        if (at >= 0) lineEvent(subscriber, data, at, recvAt);
      });
      resolve();
    });
    socket.once('error', reject);
  });
}

/**
 * The same subscriber without the `ws` library: the RFC 6455 handshake over node:http, then the server's frames
 * read in place (2, 4 or 10 header bytes, never masked from a server; RFC 6455 §5.2), so a message costs a header
 * read and a search instead of a Buffer, an event and a listener call. The benchmark's default: the `ws` client
 * needs about 1.9 µs of CPU a message here, and 12 million of them would make the client the thing measured.
 */
function openRawWs(baseUrl, scanId, headers) {
  const subscriber = newSubscriber();
  const url = new URL(`/ws/scans/${scanId}`, baseUrl);
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      headers: {
        ...headers,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': key,
      },
    });
    req.on('response', (res) => reject(new Error(`WebSocket upgrade answered ${res.statusCode}`)));
    req.on('error', reject);
    req.on('upgrade', (res, socket, head) => {
      if (res.headers['sec-websocket-accept'] !== accept) return reject(new Error('bad Sec-WebSocket-Accept'));
      subscriber.close = () => {
        subscriber.closing = true;
        socket.destroy();
      };
      socket.on('close', () => (subscriber.droppedByServer ||= !subscriber.closing));
      socket.on('error', () => undefined);
      let greeted = false;
      let rest = head;
      const read = (chunk) => {
        const recvAt = now();
        const bytes = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
        let offset = 0;
        for (;;) {
          if (bytes.length - offset < 2) break;
          const opcode = bytes[offset] & 0x0f;
          let length = bytes[offset + 1] & 0x7f;
          let start = offset + 2;
          if (length === 126) {
            if (bytes.length - offset < 4) break;
            length = bytes.readUInt16BE(offset + 2);
            start = offset + 4;
          } else if (length === 127) {
            if (bytes.length - offset < 10) break;
            length = bytes.readUInt32BE(offset + 2) * 0x1_0000_0000 + bytes.readUInt32BE(offset + 6);
            start = offset + 10;
          }
          const end = start + length;
          if (end > bytes.length) break;
          if (opcode === 0x8) {
            socket.destroy(); // a close frame: the gateway dropped this subscriber
            return;
          }
          if (opcode === 0x1) {
            if (!greeted) {
              greeted = true; // `connected`: the subscription is in place
              resolve();
            } else {
              const at = lineAt(bytes, start, end);
              if (at >= 0) lineEvent(subscriber, bytes, at, recvAt);
            }
          }
          offset = end;
        }
        rest = offset === bytes.length ? Buffer.alloc(0) : bytes.subarray(offset);
      };
      socket.on('data', read);
      if (head.length > 0) read(Buffer.alloc(0));
    });
    req.end();
  });
}

function openSse(baseUrl, path, headers) {
  const subscriber = newSubscriber();
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, headers: { accept: 'text/event-stream', ...headers } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`SSE ${path} answered ${res.statusCode}`));
        let rest = Buffer.alloc(0);
        res.on('data', (chunk) => {
          const recvAt = now();
          const bytes = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
          // Only whole events (ended by a blank line) are read; the tail waits for the next chunk.
          const end = bytes.lastIndexOf('\n\n');
          if (end < 0) {
            rest = bytes;
            return;
          }
          // One event per blank-line-ended block; the blank line after `data:` ends it.
          for (let start = 0; start < end; ) {
            let stop = bytes.indexOf(10, start);
            while (stop >= 0 && stop < end && bytes[stop + 1] !== 10) stop = bytes.indexOf(10, stop + 1);
            if (stop < 0 || stop > end) stop = end;
            const at = lineAt(bytes, start, stop);
            if (at >= 0) lineEvent(subscriber, bytes, at, recvAt);
            start = stop + 2;
          }
          rest = bytes.subarray(end + 2);
        });
        res.on('error', () => undefined);
        res.on('close', () => (subscriber.droppedByServer ||= !subscriber.closing));
        resolve();
      },
    );
    req.on('error', reject);
    subscriber.close = () => {
      subscriber.closing = true;
      req.destroy();
    };
    req.end();
  });
}

parentPort.on('message', async (message) => {
  if (message.type === 'open') {
    sampleEvery = message.sampleEvery;
    try {
      for (const [kind, url] of message.subscribers) {
        if (kind === 'ws' && message.wsClient === 'ws') await openWs(url, message.scanId, message.headers);
        else if (kind === 'ws') await openRawWs(url, message.scanId, message.headers);
        else await openSse(url, `/api/scans/${message.scanId}/events`, message.headers);
      }
      parentPort.postMessage({ type: 'ready' });
    } catch (error) {
      parentPort.postMessage({ type: 'error', message: String(error && error.message) });
    }
  } else if (message.type === 'progress') {
    parentPort.postMessage({ type: 'progress', received: subscribers.map((s) => s.received) });
  } else if (message.type === 'finish') {
    for (const subscriber of subscribers) subscriber.close();
    const result = latencies.slice(0, samples);
    parentPort.postMessage(
      {
        type: 'result',
        subscribers: subscribers.map(({ received, outOfOrder, droppedByServer }) => ({
          received,
          outOfOrder,
          droppedByServer,
        })),
        latencies: result,
      },
      [result.buffer],
    );
  }
});
