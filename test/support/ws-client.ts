// A real WebSocket client that records every message, with deadline-bound waits instead of sleeps.
import WebSocket from 'ws';

// Events are checked field by field in tests; a loose type keeps those assertions short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type WsMessage = Record<string, any>;

export interface RecordedSocket {
  messages: WsMessage[];
  closed: Promise<{ code: number; reason: string }>;
  waitFor(predicate: (m: WsMessage) => boolean, timeoutMs?: number): Promise<WsMessage>;
  close(): void;
}

export async function openScanSocket(
  baseUrl: string,
  scanId: number,
  options: { since?: number; headers?: Record<string, string> } = {},
): Promise<RecordedSocket> {
  const { since, headers } = options;
  const url = `${baseUrl.replace(/^http/, 'ws')}/ws/scans/${scanId}${since !== undefined ? `?since=${since}` : ''}`;
  const socket = new WebSocket(url, { headers });
  const messages: WsMessage[] = [];
  const listeners = new Set<() => void>();
  socket.on('message', (data) => {
    messages.push(JSON.parse(data.toString()));
    for (const listener of listeners) listener();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const listener of listeners) listener();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });

  const waitFor = (predicate: (m: WsMessage) => boolean, timeoutMs = 30_000) =>
    new Promise<WsMessage>((resolve, reject) => {
      const check = () => {
        const found = messages.find(predicate);
        if (found) finish(() => resolve(found));
        else if (socket.readyState === WebSocket.CLOSED) {
          finish(() =>
            reject(new Error(`socket closed; got ${JSON.stringify(messages.map((m) => m.event))}`)),
          );
        }
      };
      const finish = (fn: () => void) => {
        listeners.delete(check);
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(
        () =>
          finish(() => reject(new Error(`timed out; got ${JSON.stringify(messages.map((m) => m.event))}`))),
        timeoutMs,
      );
      listeners.add(check);
      check();
    });

  return { messages, closed, waitFor, close: () => socket.close() };
}
