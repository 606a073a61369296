// A batch of scan events as the bytes that go to a subscriber, made once per batch and gateway: the hub hands every
// live subscriber of a scan the same batch array, so 300 subscribers cost one encoding and 300 writes, not 300
// encodings and a write per event each (bench fanout, docs/performance.md).
import type { Socket } from 'node:net';
import type { ScanEvent } from '@nso/contracts';
import type { WebSocket } from 'ws';
import { scanEventJson } from '@nso/events';

const payloads = new WeakMap<readonly ScanEvent[], readonly Buffer[]>();
const eventBytes = new WeakMap<ScanEvent, Buffer>();
const blocks = new WeakMap<readonly ScanEvent[], Buffer>();

/** What ws.send needs to send a prepared UTF-8 payload as one text message, uncompressed (RFC 6455 §5.6). */
const TEXT_MESSAGE = { binary: false, compress: false, fin: true } as const;

/**
 * The payload of each event's WebSocket text message (its JSON as UTF-8), made once per event and gateway and
 * cached for as long as the batch array lives; the array and its events must not change.
 */
export function webSocketPayloads(events: readonly ScanEvent[]): readonly Buffer[] {
  let wire = payloads.get(events);
  if (wire) return wire;
  wire = events.map((event) => {
    let bytes = eventBytes.get(event);
    if (!bytes) eventBytes.set(event, (bytes = Buffer.from(scanEventJson(event), 'utf8')));
    return bytes;
  });
  payloads.set(events, wire);
  return wire;
}

/**
 * Sends a batch to one subscriber through `ws`, one text message per event, in one write to the connection:
 * `socket` (the upgraded request's, the one ws writes to) is corked meanwhile, so ws's frames of the batch go out
 * in one writev. ws frames a Buffer without copying it (server frames are not masked), so the payloads made once
 * by webSocketPayloads are shared by every subscriber; ws adds a 2–10 byte header per message.
 */
export function sendScanEvents(client: WebSocket, socket: Socket, events: readonly ScanEvent[]): void {
  const messages = webSocketPayloads(events);
  socket.cork();
  try {
    for (const payload of messages) client.send(payload, TEXT_MESSAGE);
  } finally {
    socket.uncork();
  }
}

/**
 * One server-sent event per scan event, back to back: `event: <event>`, `id: <seq>` (what Last-Event-ID resumes
 * after) and `data: <JSON>` (one line: JSON text has no raw line breaks), each block ended by a blank line (HTML
 * Living Standard, "Server-sent events", the event stream format). Cached like webSocketPayloads.
 */
export function serverSentEvents(events: readonly ScanEvent[]): Buffer {
  let wire = blocks.get(events);
  if (wire) return wire;
  let text = '';
  for (const event of events)
    text += `event: ${event.event}\nid: ${event.seq}\ndata: ${scanEventJson(event)}\n\n`;
  wire = Buffer.from(text, 'utf8');
  blocks.set(events, wire);
  return wire;
}
