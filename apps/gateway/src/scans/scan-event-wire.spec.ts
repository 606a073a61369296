// The wire of a batch of scan events, read back the way clients read it: ws's own Receiver for the WebSocket
// frames, the SSE format's fields for the event stream.
import type { ScanEvent } from '@nso/contracts';
import WebSocket from 'ws';
import { serverSentEvents, webSocketFrames } from './scan-event-wire';

const event = (seq: number, line: string): ScanEvent => ({
  event: 'line',
  batch_id: 1,
  line,
  seq,
  scan_id: 7,
  result_id: 70,
  ts: '2026-12-06T21:00:00.000Z',
});

/** ws's frame parser, as a client uses it (not declared by @types/ws). */
type ReceiverClass = new (options: { isServer: boolean }) => NodeJS.WritableStream & {
  on(name: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(name: 'error', listener: (error: Error) => void): void;
};
const { Receiver } = WebSocket as unknown as { Receiver: ReceiverClass };

function readFrames(wire: Buffer): Promise<Array<{ text: string; isBinary: boolean }>> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: false });
    const messages: Array<{ text: string; isBinary: boolean }> = [];
    receiver.on('message', (data, isBinary) => messages.push({ text: data.toString('utf8'), isBinary }));
    receiver.on('error', reject);
    receiver.write(wire, () => resolve(messages));
  });
}

describe('webSocketFrames', () => {
  it('makes one text message per event, holding its JSON, for every payload length class of RFC 6455', async () => {
    // 7-bit, 16-bit and 64-bit payload lengths, and text that is not ASCII.
    const events = [event(1, 'a'), event(2, 'x'.repeat(300)), event(3, 'é'.repeat(40_000)), event(4, 'ok')];
    const messages = await readFrames(webSocketFrames(events));
    expect(messages).toEqual(events.map((e) => ({ text: JSON.stringify(e), isBinary: false })));
  });

  it('writes byte for byte the frames ws makes for each event, one after the other', () => {
    type Framing = { frame(data: Buffer, options: object): Buffer[] };
    const { Sender } = WebSocket as unknown as { Sender: Framing };
    const options = { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false };
    const events = [event(1, 'a'), event(2, 'x'.repeat(300)), event(3, 'é'.repeat(40_000)), event(4, 'ok')];
    const expected = Buffer.concat(
      events.flatMap((e) => Sender.frame(Buffer.from(JSON.stringify(e), 'utf8'), options)),
    );
    expect(webSocketFrames(events).equals(expected)).toBe(true);
  });

  it('encodes a batch once: the same array gives the same bytes object', () => {
    const events = [event(1, 'a'), event(2, 'b')];
    expect(webSocketFrames(events)).toBe(webSocketFrames(events));
    expect(webSocketFrames([...events])).not.toBe(webSocketFrames(events));
  });
});

describe('serverSentEvents', () => {
  it('writes each event as `event`, `id` (its seq) and one `data` line, ended by a blank line', () => {
    const events = [event(5, 'one'), event(6, 'two\nlines')];
    expect(serverSentEvents(events).toString('utf8')).toBe(
      events.map((e) => `event: line\nid: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`).join(''),
    );
  });
});
