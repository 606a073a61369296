// A batch of scan events as the bytes that go to a subscriber, made once per batch and gateway: the hub hands every
// live subscriber of a scan the same batch array, so 300 subscribers cost one encoding and 300 writes, not 300
// encodings and a write per event each (bench fanout, docs/performance.md).
import type { ScanEvent } from '@nso/contracts';
import { scanEventJson } from '@nso/events';

const frames = new WeakMap<readonly ScanEvent[], Buffer>();
const blocks = new WeakMap<readonly ScanEvent[], Buffer>();

/** RFC 6455 §5.2: FIN set, opcode 0x1 (text). */
const FIN_TEXT = 0x81;

/**
 * One WebSocket text frame per event (its JSON), back to back, as a server sends them: final frames, unmasked
 * (RFC 6455 §5.1: a server must not mask), no extension bits (the gateway negotiates no permessage-deflate).
 * Cached for as long as the batch array lives; the array and its events must not change.
 */
export function webSocketFrames(events: readonly ScanEvent[]): Buffer {
  let wire = frames.get(events);
  if (wire) return wire;
  const payloads = events.map((event) => Buffer.from(scanEventJson(event), 'utf8'));
  const size = payloads.reduce((sum, payload) => sum + frameHeaderLength(payload.length) + payload.length, 0);
  wire = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const payload of payloads) {
    offset = writeFrameHeader(wire, offset, payload.length);
    offset += payload.copy(wire, offset);
  }
  frames.set(events, wire);
  return wire;
}

/** RFC 6455 §5.2 payload length: 7 bits, or 126 and 16 bits, or 127 and 64 bits. */
function frameHeaderLength(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

function writeFrameHeader(target: Buffer, offset: number, length: number): number {
  target[offset++] = FIN_TEXT;
  if (length < 126) {
    target[offset++] = length;
  } else if (length < 0x10000) {
    target[offset++] = 126;
    offset = target.writeUInt16BE(length, offset);
  } else {
    target[offset++] = 127;
    offset = target.writeUInt32BE(Math.floor(length / 0x1_0000_0000), offset);
    offset = target.writeUInt32BE(length >>> 0, offset);
  }
  return offset;
}

/**
 * One server-sent event per scan event, back to back: `event: <event>`, `id: <seq>` (what Last-Event-ID resumes
 * after) and `data: <JSON>` (one line: JSON text has no raw line breaks), each block ended by a blank line (HTML
 * Living Standard, "Server-sent events", the event stream format). Cached like webSocketFrames.
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
