// A batch of scan events as the bytes that go to a subscriber, made once per batch and gateway: the hub hands every
// live subscriber of a scan the same batch array, so 300 subscribers cost one encoding and 300 writes, not 300
// encodings and a write per event each (bench fanout, docs/performance.md).
import type { Socket } from 'node:net';
import type { ScanEvent } from '@nso/contracts';
import WebSocket from 'ws';

const texts = new WeakMap<ScanEvent, string>();
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

/**
 * One WebSocket text message per event (its JSON), back to back, as ws frames them: the bytes of the batch made
 * once per gateway and cached for as long as the batch array lives; the array and its events must not change.
 */
export function webSocketFrames(events: readonly ScanEvent[]): Buffer {
  let wire = frames.get(events);
  if (wire) return wire;
  const parts = events.flatMap((event) =>
    Sender.frame(Buffer.from(scanEventJson(event), 'utf8'), TEXT_FRAME),
  );
  wire = Buffer.concat(parts);
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
  let text = '';
  for (const event of events)
    text += `event: ${event.event}\nid: ${event.seq}\ndata: ${scanEventJson(event)}\n\n`;
  wire = Buffer.from(text, 'utf8');
  blocks.set(events, wire);
  return wire;
}

/**
 * `JSON.stringify(event)`, made once per event and gateway and cached for as long as the event object lives: the
 * hub hands every local subscriber the same event object, and a replay's events reach the WebSocket and the SSE
 * encoding alike. The event must not be mutated.
 */
export function scanEventJson(event: ScanEvent): string {
  let text = texts.get(event);
  if (text === undefined) {
    text = JSON.stringify(event);
    texts.set(event, text);
  }
  return text;
}
