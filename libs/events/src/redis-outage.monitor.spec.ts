import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { isRedisConnectionError, RedisOutageMonitor } from './redis-outage.monitor';

/** An ioredis client as far as the monitor sees it: events, a status and PING. */
class FakeClient extends EventEmitter {
  status = 'ready';
  answers = true;
  ping(): Promise<string> {
    return this.answers
      ? Promise.resolve('PONG')
      : Promise.reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' }));
  }
  goDown(): void {
    this.status = 'reconnecting';
    this.answers = false;
  }
  comeBack(): void {
    this.status = 'ready';
    this.answers = true;
    this.emit('ready');
  }
}

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('RedisOutageMonitor', () => {
  let lines: Array<[string, string]>;
  beforeEach(() => {
    lines = [];
    for (const level of ['error', 'warn', 'log'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation((message: unknown, ..._rest: unknown[]) => {
        lines.push([level, String(message)]);
      });
    }
  });
  afterEach(() => jest.restoreAllMocks());

  function setUp() {
    const monitor = new RedisOutageMonitor();
    const commands = new FakeClient();
    const subscriber = new FakeClient();
    const queue = new EventEmitter();
    monitor.watchClient('commands', commands as unknown as Redis, { probe: true });
    monitor.watchClient('subscriber', subscriber as unknown as Redis);
    monitor.watchEmitter('queue', queue);
    return { monitor, commands, subscriber, queue };
  }

  it('logs an outage once, however many connections fail how often, and its recovery once', async () => {
    const { monitor, commands, subscriber, queue } = setUp();
    commands.goDown();
    subscriber.goDown();
    for (let i = 0; i < 50; i++) {
      commands.emit('error', refused());
      subscriber.emit('error', refused());
      queue.emit('error', refused());
    }
    await settle();
    expect(monitor.isDown).toBe(true);

    commands.comeBack();
    await settle();
    expect(monitor.isDown).toBe(true); // the subscriber is still reconnecting
    subscriber.comeBack();
    await settle();
    expect(monitor.isDown).toBe(false);
    monitor.onApplicationShutdown();

    expect(lines).toEqual([
      ['error', expect.stringMatching(/^Redis does not answer \(commands: connect ECONNREFUSED/)],
      [
        'log',
        expect.stringMatching(
          /^Redis answers again after \d+\.\d s \(150 connection errors while it was away\)$/,
        ),
      ],
    ]);
  });

  it('does not call a stale connection error an outage when Redis answers', async () => {
    const { monitor, queue } = setUp();
    queue.emit('error', new Error('Connection is closed.'));
    await settle();
    expect(monitor.isDown).toBe(false);
    expect(lines).toEqual([]);
    monitor.onApplicationShutdown();
  });

  it('logs errors that are not about the connection as they come, naming their source', async () => {
    const { monitor, queue } = setUp();
    queue.emit('error', new Error('Missing lock for job 7'));
    await settle();
    expect(lines).toEqual([['warn', 'queue: Missing lock for job 7']]);
    monitor.onApplicationShutdown();
  });
});

describe('isRedisConnectionError', () => {
  it.each([
    refused(),
    Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    new Error('Connection is closed.'),
    Object.assign(new Error('Reached the max retries per request limit (which is 2).'), {
      name: 'MaxRetriesPerRequestError',
    }),
  ])('is true for %s', (error) => expect(isRedisConnectionError(error)).toBe(true));

  it.each([new Error('ERR unknown command'), new Error('Missing lock for job 1'), 'ECONNREFUSED', undefined])(
    'is false for %s',
    (error) => expect(isRedisConnectionError(error)).toBe(false),
  );
});
