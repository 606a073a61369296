// A redis-server of a test's own, on a free loopback port and without persistence, so a test can stop it, start it
// again empty, or FLUSHALL it without touching the Redis every other test shares.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './processes';

export interface PrivateRedis {
  port: number;
  url: string;
  /** Starts redis-server (again, empty) on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** Ends redis-server (SIGKILL: nothing is saved); resolves once it has exited. */
  kill(): Promise<void>;
  /** A client of its own (disconnected by close). */
  client(): Redis;
  close(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'nso-redis-'));
  const clients: Redis[] = [];
  let server: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const answers = async (): Promise<boolean> => {
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  };

  const start = async () => {
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    server = child;
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    while (!(await answers())) {
      if (child.exitCode !== null)
        throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const kill = async () => {
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    kill,
    client: () => {
      const client = new Redis({ host: '127.0.0.1', port });
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    close: async () => {
      for (const client of clients) client.disconnect();
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
