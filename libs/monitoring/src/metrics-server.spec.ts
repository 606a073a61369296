import { request } from 'node:http';
import { AddressInfo, createServer } from 'node:net';
import { Metrics } from './metrics';
import { MetricsServer } from './metrics-server';

/** GET `path` from 127.0.0.1:`port` with `host` as the Host header: the status. */
function get(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A port nothing listens on at `host` just now. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

describe('MetricsServer', () => {
  const started: MetricsServer[] = [];
  afterEach(async () => {
    for (const server of started.splice(0)) await server.onApplicationShutdown();
  });

  /** A metrics server listening on `host`, and its port. */
  async function start(host: string): Promise<number> {
    const port = await freePort(host);
    const server = new MetricsServer(new Metrics(), { port, host });
    await server.onApplicationBootstrap();
    started.push(server);
    return port;
  }

  it("answers this machine's names on loopback and refuses a rebound name with 421", async () => {
    const port = await start('127.0.0.1');
    expect(await get(port, '/metrics', `127.0.0.1:${port}`)).toBe(200);
    expect(await get(port, '/metrics', `localhost:${port}`)).toBe(200);
    expect(await get(port, '/metrics', `prometheus.localhost:${port}`)).toBe(200);
    expect(await get(port, '/metrics', `rebound.example.test:${port}`)).toBe(421);
    expect(await get(port, '/metrics', `localhost.example.test:${port}`)).toBe(421);
    expect(await get(port, '/other', `localhost:${port}`)).toBe(404);
  });
});
