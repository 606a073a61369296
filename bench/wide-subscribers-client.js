// The subscribers of the `wide-subscribers` benchmark (plain CommonJS, a child process of the benchmark so that its
// CPU time is its own): one WebSocket and one SSE subscriber of a scan, each reading every event of the run and
// checking it: seqs must go 1, 2, 3, … without a gap or a repeat (a fresh scan per run), `line` events are counted,
// and the run's terminal event (`scan_complete`, `scan_failed`, `scan_stopped`) ends the subscriber.
//
// Like bench/fanout-client.js it reads only what the check needs, in place: a WebSocket text frame's JSON starts
// `{"seq":<n>,"event":"<name>"` and an SSE block `event: <name>\nid: <n>\n` (the gateway's wire format,
// apps/gateway/src/scans/scan-event-wire.ts); a /16 is about 393,000 events per subscriber, and the client shares
// the machine's two cores with nmap, the worker and the gateway it measures.
//
// IPC messages: in {type: 'open', url, scanId, headers} → out {type: 'ready'} (both greeted) or {type: 'error'};
// out {type: 'done', kind, ...} per subscriber at its terminal event (or when the server closes it); in {type:
// 'close'} → both closed, then the process exits.
'use strict';
const { createHash, randomBytes } = require('node:crypto');
const { request } = require('node:http');

const TERMINAL = new Set(['scan_complete', 'scan_failed', 'scan_stopped', 'legacy_scan_complete']);
const now = () => performance.timeOrigin + performance.now();
const subscribers = [];

function newSubscriber(kind) {
  const subscriber = {
    kind,
    events: 0,
    lines: 0,
    lastSeq: 0,
    outOfOrder: 0,
    firstSeq: 0,
    terminal: null,
    terminalAt: 0,
    closedBy: null,
    finished: false,
    close: () => undefined,
  };
  subscribers.push(subscriber);
  return subscriber;
}

/** Reads a decimal number from bytes[at…]; returns [value, index after it]. */
function number(bytes, at) {
  let n = 0;
  let index = at;
  for (let c = bytes[index]; c >= 48 && c <= 57; c = bytes[++index]) n = n * 10 + (c - 48);
  return [n, index];
}

function onEvent(subscriber, seq, name) {
  if (subscriber.finished) return;
  subscriber.events++;
  if (subscriber.firstSeq === 0) subscriber.firstSeq = seq;
  else if (seq !== subscriber.lastSeq + 1) subscriber.outOfOrder++;
  subscriber.lastSeq = seq;
  if (name === 'line') subscriber.lines++;
  else if (TERMINAL.has(name)) {
    subscriber.terminal = name;
    subscriber.terminalAt = now();
    finish(subscriber);
  }
}

function finish(subscriber) {
  if (subscriber.finished) return;
  subscriber.finished = true;
  const { kind, events, lines, firstSeq, lastSeq, outOfOrder, terminal, terminalAt, closedBy } = subscriber;
  process.send({
    type: 'done',
    kind,
    events,
    lines,
    firstSeq,
    lastSeq,
    outOfOrder,
    terminal,
    terminalAt,
    closedBy,
  });
}

/** Whether the event name at bytes[at…] is `line`, ended by the byte `end` (no string made for the commonest name). */
function isLine(bytes, at, end) {
  return (
    bytes[at] === 108 &&
    bytes[at + 1] === 105 &&
    bytes[at + 2] === 110 &&
    bytes[at + 3] === 101 &&
    bytes[at + 4] === end
  );
}

const SEQ_PREFIX = Buffer.from('{"seq":');
const EVENT_KEY = Buffer.from(',"event":"');

/** The RFC 6455 handshake over node:http, then the server's frames read in place (never masked from a server). */
function openWs(baseUrl, scanId, headers) {
  const subscriber = newSubscriber('websocket');
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
      if (res.headers['sec-websocket-accept'] !== accept)
        return reject(new Error('bad Sec-WebSocket-Accept'));
      subscriber.close = () => socket.destroy();
      socket.on('close', () => {
        subscriber.closedBy ??= 'connection closed';
        finish(subscriber);
      });
      socket.on('error', () => undefined);
      let greeted = false;
      let rest = Buffer.alloc(0);
      const read = (chunk) => {
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
            const code = length >= 2 ? bytes.readUInt16BE(start) : 1005;
            subscriber.closedBy = `close ${code} ${bytes.toString('utf8', start + 2, end)}`;
            socket.destroy();
            return;
          }
          if (opcode === 0x1) {
            if (!greeted) {
              greeted = true; // `connected`: the subscription is in place
              resolve();
            } else if (
              bytes.compare(SEQ_PREFIX, 0, SEQ_PREFIX.length, start, start + SEQ_PREFIX.length) === 0
            ) {
              const [seq, after] = number(bytes, start + SEQ_PREFIX.length);
              const nameAt = after + EVENT_KEY.length;
              onEvent(
                subscriber,
                seq,
                isLine(bytes, nameAt, 34)
                  ? 'line'
                  : bytes.toString('latin1', nameAt, bytes.indexOf(34, nameAt)),
              );
            }
          }
          offset = end;
        }
        rest = offset === bytes.length ? Buffer.alloc(0) : bytes.subarray(offset);
      };
      socket.on('data', read);
      if (head.length > 0) read(head);
    });
    req.end();
  });
}

/** `event: <name>\nid: <seq>\ndata: …\n\n` blocks, read in place (comments and the opening blank line skipped). */
function openSse(baseUrl, scanId, headers) {
  const subscriber = newSubscriber('sse');
  const url = new URL(`/api/scans/${scanId}/events`, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        headers: { accept: 'text/event-stream', ...headers },
      },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`SSE answered ${res.statusCode}`));
        let rest = Buffer.alloc(0);
        res.on('data', (chunk) => {
          const bytes = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
          let start = 0;
          for (;;) {
            while (bytes[start] === 10) start++; // the blank line the stream opens with
            const end = bytes.indexOf('\n\n', start);
            if (end < 0) break;
            // `event: ` is 7 bytes; the name runs to the line's end; `id: ` follows.
            if (bytes[start] === 101 /* e */) {
              const nameEnd = bytes.indexOf(10, start);
              const [seq] = number(bytes, nameEnd + 5);
              onEvent(
                subscriber,
                seq,
                isLine(bytes, start + 7, 10) ? 'line' : bytes.toString('latin1', start + 7, nameEnd),
              );
            }
            start = end + 2;
          }
          rest = start === bytes.length ? Buffer.alloc(0) : bytes.subarray(start);
        });
        res.on('error', () => undefined);
        res.on('close', () => {
          subscriber.closedBy ??= 'response ended';
          finish(subscriber);
        });
        resolve();
      },
    );
    req.on('error', reject);
    subscriber.close = () => req.destroy();
    req.end();
  });
}

process.on('message', async (message) => {
  if (message.type === 'open') {
    try {
      await openWs(message.url, message.scanId, message.headers);
      await openSse(message.url, message.scanId, message.headers);
      process.send({ type: 'ready' });
    } catch (error) {
      process.send({ type: 'error', message: String(error && error.message) });
    }
  } else if (message.type === 'close') {
    for (const subscriber of subscribers) {
      subscriber.finished = true;
      subscriber.close();
    }
    process.disconnect();
  }
});
