// Requests as a scanner agent sends them: no credential, JSON, and from a chosen loopback source address
// (127.0.0.1 vs 127.0.0.2), which supertest cannot choose.
import { request as httpRequest } from 'node:http';

export interface AgentAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/**
 * `method path` on the gateway at `baseUrl` with a JSON `body`, sent from `from` (a loopback address; Linux
 * routes all of 127.0.0.0/8 to the loopback interface, so any of them can be bound).
 */
export function agentRequest(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  options: { from?: string } = {},
): Promise<AgentAnswer> {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        method,
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        localAddress: options.from ?? '127.0.0.1',
        headers: payload
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}
