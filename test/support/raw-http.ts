// Raw bytes to a loopback HTTP server over node:net, for requests no HTTP client would send.
import { connect } from 'node:net';

export interface RawExchange {
  /** Everything the server sent back before it closed the connection (or the deadline passed). */
  response: string;
  /** The status code of the first status line, or undefined when the server sent none. */
  status: number | undefined;
  /** True when the server closed the connection (false: the deadline passed first). */
  closed: boolean;
}

/**
 * Sends `chunks` in order (a function chunk runs against the socket instead, e.g. to reset it), then reads
 * until the server closes the connection or `timeoutMs` passes.
 */
export function rawExchange(
  port: number,
  chunks: Array<string | Buffer | ((socket: import('node:net').Socket) => void)>,
  timeoutMs = 2_000,
): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const received: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const response = Buffer.concat(received).toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(response);
      resolve({ response, status: match ? Number(match[1]) : undefined, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (chunk) => received.push(chunk));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        if (typeof chunk === 'function') chunk(socket);
        else socket.write(chunk);
      }
    });
  });
}

/** The header block of an upgrade request to `target`, with the headers given (null leaves one out). */
export function upgradeRequest(
  target: string,
  headers: Record<string, string | null> = {},
  method = 'GET',
): string {
  const all: Record<string, string | null> = {
    Host: '127.0.0.1',
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    ...headers,
  };
  const lines = Object.entries(all)
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([name, value]) => `${name}: ${value}`);
  return `${method} ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}
