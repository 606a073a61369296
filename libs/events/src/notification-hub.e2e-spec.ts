// The /api/stream notification topics against a real Redis, through the same stream primitive as scan events: a
// fresh subscription starts live, a resumed one replays what it missed, a lost counter replays the whole log, and a
// credential's end reaches its watcher.
import Redis from 'ioredis';
import { PublishedNotification, redisKeys } from '@nso/contracts';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from '../../../test/support/redis';
import { NotificationHub } from './notification-hub';
import { notificationKeys, Notifier } from './notifications';
import { RedisOutageMonitor } from './redis-outage.monitor';

const prefix = testRedisPrefix('notify');
const keys = redisKeys(prefix);
const names = notificationKeys(keys);
const connections: Redis[] = [];
const hubs: NotificationHub[] = [];
let notifier: Notifier;
let nextUserId = 1;

function connect(): Redis {
  const redis = new Redis(testRedisUrl());
  connections.push(redis);
  return redis;
}

function newHub(): NotificationHub {
  const hub = new NotificationHub(connect(), keys, new RedisOutageMonitor());
  hubs.push(hub);
  return hub;
}

/** Collects a listener's notifications; waitFor resolves once n arrived, or fails at a deadline. */
function sink() {
  const received: PublishedNotification[] = [];
  let wake = () => undefined as void;
  const listener = (batch: readonly PublishedNotification[]) => {
    received.push(...batch);
    wake();
  };
  const waitFor = (count: number, timeoutMs = 5_000): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} notifications, got ${received.length}`)),
        timeoutMs,
      );
      wake = () => {
        if (received.length < count) return;
        clearTimeout(timer);
        resolve();
      };
      wake();
    });
  return { received, listener, waitFor, messages: () => received.map((n) => n.message) };
}

const info = (message: string) => ({ message, type: 'info' as const });

beforeAll(() => {
  notifier = new Notifier(connect(), keys);
});

afterAll(async () => {
  for (const hub of hubs) hub.onModuleDestroy();
  for (const redis of connections) redis.disconnect();
  await clearRedisPrefix(prefix);
});

describe('NotificationHub', () => {
  it('starts a fresh subscription live: what was published before it is not replayed', async () => {
    const userId = nextUserId++;
    await notifier.notifyUser(userId, info('before'));
    const hub = newHub();
    const seen = sink();
    const starts: Array<[number, number]> = [];
    const subscription = await hub.subscribe(
      `user:${userId}`,
      { onStart: (lastSeq, afterSeq) => starts.push([lastSeq, afterSeq]) },
      seen.listener,
    );
    await notifier.notifyUser(userId, info('after 1'));
    await notifier.notifyUser(userId, info('after 2'));
    await seen.waitFor(2);
    expect(starts).toEqual([[1, 1]]);
    expect(seen.messages()).toEqual(['after 1', 'after 2']);
    expect(seen.received.map((n) => n.seq)).toEqual([2, 3]);
    subscription.close();
  });

  it('resumes after a seq with what was missed, then live, nothing twice', async () => {
    const userId = nextUserId++;
    for (const n of [1, 2, 3, 4]) await notifier.notifyUser(userId, info(`n${n}`));
    const seen = sink();
    const subscription = await newHub().subscribe(`user:${userId}`, { afterSeq: 2 }, seen.listener);
    await notifier.notifyUser(userId, info('n5'));
    await seen.waitFor(3);
    expect(seen.messages()).toEqual(['n3', 'n4', 'n5']);
    subscription.close();
  });

  it('replays the whole log when the counter was lost below the seq a client resumes after', async () => {
    const userId = nextUserId++;
    const topic = `user:${userId}` as const;
    for (const n of [1, 2, 3]) await notifier.notifyUser(userId, info(`old ${n}`));
    // Redis lost the counter and the log (restarted empty); two notifications since.
    await connections[0].del(names.seq(topic), names.log(topic));
    await notifier.notifyUser(userId, info('new 1'));
    await notifier.notifyUser(userId, info('new 2'));
    const seen = sink();
    const starts: number[] = [];
    const subscription = await newHub().subscribe(
      topic,
      { afterSeq: 3, onStart: (_lastSeq, afterSeq) => starts.push(afterSeq) },
      seen.listener,
    );
    await seen.waitFor(2);
    expect(starts).toEqual([3]);
    expect(seen.messages()).toEqual(['new 1', 'new 2']);
    await notifier.notifyUser(userId, info('new 3'));
    await seen.waitFor(3);
    expect(seen.messages()).toEqual(['new 1', 'new 2', 'new 3']);
    subscription.close();
  });

  it("tells a credential's watchers, on another hub, that it ended, and only them", async () => {
    const hub = newHub();
    const ended: string[] = [];
    const stop = await hub.watchCredential('digest-a', () => ended.push('a'));
    await hub.watchCredential('digest-b', () => ended.push('b'));
    await notifier.sessionEnded('digest-a');
    await notifier.tokenRevoked('digest-c');
    const deadline = Date.now() + 5_000;
    while (ended.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(ended).toEqual(['a']);
    stop();
    await notifier.sessionEnded('digest-a');
    await notifier.sessionEnded('digest-b');
    while (ended.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(ended).toEqual(['a', 'b']);
  });
});
