// A batch of scan events as the bytes that go to a subscriber, made once per batch and gateway: the hub hands every
// live subscriber of a scan the same batch array, so 300 subscribers cost one encoding and 300 writes, not 300
// encodings and a write per event each (bench fanout, docs/performance.md).
//
// Per event only what each event needs: its JSON (written once for both transports, by template for a bulk
// entry's `line` events: scanEventJson), a ws frame header, and its SSE fields; the bytes of a batch are one
// Buffer. Caches are per batch array, not per event: a WeakMap entry per event cost more than the JSON itself for
// the 400,000 `line` events of a /16 (bench wide-subscribers, docs/performance.md).
import type { Socket } from 'node:net';
import type { ScanEvent } from '@nso/contracts';
import { scanEventJson } from '@nso/events';
import WebSocket from 'ws';

const texts = new WeakMap<readonly ScanEvent[], readonly string[]>();
const frames = new WeakMap<readonly ScanEvent[], Buffer>();
const blocks = new WeakMap<readonly ScanEvent[], Buffer>();

/**
 * ws's own framing: `WebSocket.Sender.frame` (public in ws 8's lib/sender.js, not declared by @types/ws) returns a
 * frame as [header, payload]; the payload is not copied for a server frame (unmasked, readOnly).
 */
interface WsFraming {
  frame(
    data: Buffer,
    options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean },
  ): Buffer[];
}
const { Sender } = WebSocket as unknown as { Sender: WsFraming };

/** A final text frame (opcode 0x1), unmasked (RFC 6455 §5.1: a server must not mask), uncompressed (no RSV1). */
const TEXT_FRAME = { fin: true, opcode: 0x1, mask: false, readOnly: true, rsv1: false } as const;

/** Zero bytes to hand Sender.frame a payload of the length a header is made for (it reads only the length). */
const ZEROS = Buffer.alloc(0xffff);
/** ws's header of a final text frame, by payload length (< 65,536 bytes): a few distinct lengths, made once. */
const headers: Buffer[] = [];

/** The header ws writes before a text frame of `length` payload bytes (RFC 6455 §5.2: 2, 4 or 10 bytes). */
function frameHeader(length: number): Buffer {
  if (length > 0xffff) return Sender.frame(Buffer.alloc(length), TEXT_FRAME)[0];
  let header = headers[length];
  if (!header) {
    header = Sender.frame(ZEROS.subarray(0, length), TEXT_FRAME)[0];
    headers[length] = header;
  }
  return header;
}

/**
 * One WebSocket text message per event (its JSON), back to back, as ws frames them: the bytes of the batch made
 * once per gateway and cached for as long as the batch array lives; the array and its events must not change.
 * One Buffer per batch, each frame's header (ws's, cached by length) and payload written into it in place: a
 * Buffer object per event made the garbage collector the gateway's largest cost (bench wide-subscribers).
 */
export function webSocketFrames(events: readonly ScanEvent[]): Buffer {
  let wire = frames.get(events);
  if (wire) return wire;
  const jsons = scanEventTexts(events);
  const lengths = new Array<number>(jsons.length);
  let total = 0;
  for (let index = 0; index < jsons.length; index++) {
    const length = Buffer.byteLength(jsons[index], 'utf8');
    lengths[index] = length;
    total += frameHeader(length).length + length;
  }
  wire = Buffer.allocUnsafe(total);
  let offset = 0;
  for (let index = 0; index < jsons.length; index++) {
    const header = frameHeader(lengths[index]);
    for (let at = 0; at < header.length; at++) wire[offset++] = header[at];
    offset += wire.write(jsons[index], offset, 'utf8');
  }
  frames.set(events, wire);
  return wire;
}

/**
 * Writes a batch to one subscriber in one write, as the frames ws makes (webSocketFrames), to the connection ws
 * speaks on (`socket`, the upgraded request's). Not through `client.send`: ws 8 has no public call for ready-made
 * frames, and a send per event and subscriber cost the gateways 8–9× the CPU in bench fanout (docs/performance.md).
 * Safe beside ws because ws writes each of its own frames synchronously and whole (no permessage-deflate is
 * negotiated and no Blob is sent, so its sender never queues), and it counts these bytes in `bufferedAmount`.
 */
export function sendScanEvents(client: WebSocket, socket: Socket, events: readonly ScanEvent[]): void {
  if (client.readyState === client.OPEN) socket.write(webSocketFrames(events));
}

/**
 * One server-sent event per scan event, back to back: `event: <event>`, `id: <seq>` (what Last-Event-ID resumes
 * after) and `data: <JSON>` (one line: JSON text has no raw line breaks), each block ended by a blank line (HTML
 * Living Standard, "Server-sent events", the event stream format). Cached like webSocketFrames.
 */
export function serverSentEvents(events: readonly ScanEvent[]): Buffer {
  let wire = blocks.get(events);
  if (wire) return wire;
  const jsons = scanEventTexts(events);
  let text = '';
  for (let index = 0; index < events.length; index++) {
    const event = events[index];
    text += `event: ${event.event}\nid: ${event.seq}\ndata: ${jsons[index]}\n\n`;
  }
  wire = Buffer.from(text, 'utf8');
  blocks.set(events, wire);
  return wire;
}

/**
 * The JSON text of each event of a batch (scanEventJson), made once per batch and gateway and cached for as long as
 * the batch array lives: the hub hands every local subscriber the same array, so the WebSocket and the SSE
 * encodings of a batch share one JSON.stringify per event. The array and its events must not change.
 */
export function scanEventTexts(events: readonly ScanEvent[]): readonly string[] {
  let jsons = texts.get(events);
  if (!jsons) {
    jsons = events.map(scanEventJson);
    texts.set(events, jsons);
  }
  return jsons;
}
