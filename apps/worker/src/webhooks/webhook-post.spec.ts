import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postPinned } from './webhook-post';

// A receiver on 127.0.0.2 only (not where `localhost` points): /redirect answers 302 to another path, /slow never answers, anything else 200.
describe('postPinned', () => {
  let server: Server;
  let port: number;
  const seen: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ path: req.url ?? '', headers: req.headers, body });
        if (req.url === '/slow') return; // never answers
        if (req.url === '/redirect') {
          res.writeHead(302, { Location: '/elsewhere' }).end();
          return;
        }
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => (seen.length = 0));

  it('connects to the checked address whatever the name, keeping the name in Host', async () => {
    // `localhost` is 127.0.0.1, where nothing listens on this port: only the pinned 127.0.0.2 answers. (A name
    // that resolves on this machine, so that a broken pin never sends a DNS query anywhere.)
    const url = new URL(`http://localhost:${port}/in?x=1`);
    const outcome = await postPinned(
      url,
      '127.0.0.2',
      4,
      { 'Content-Type': 'application/json' },
      '{"a":1}',
      2000,
    );
    expect(outcome).toEqual({ status: 200 });
    expect(seen).toEqual([
      {
        path: '/in?x=1',
        headers: expect.objectContaining({
          host: `localhost:${port}`,
          'content-type': 'application/json',
          'content-length': '7',
        }),
        body: '{"a":1}',
      },
    ]);
  });

  it('does not follow a redirect', async () => {
    const url = new URL(`http://127.0.0.2:${port}/redirect`);
    await expect(postPinned(url, '127.0.0.2', 4, {}, '{}', 2000)).resolves.toEqual({ status: 302 });
    expect(seen.map((s) => s.path)).toEqual(['/redirect']);
  });

  it('gives up after the timeout', async () => {
    const url = new URL(`http://127.0.0.2:${port}/slow`);
    const started = Date.now();
    await expect(postPinned(url, '127.0.0.2', 4, {}, '{}', 300)).resolves.toEqual({
      error: 'no answer within 300 ms',
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports a refused connection as an error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const free = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const outcome = await postPinned(new URL(`http://127.0.0.1:${free}/`), '127.0.0.1', 4, {}, '{}', 2000);
    expect(outcome).toEqual({ error: expect.stringMatching(/ECONNREFUSED/) });
  });
});
