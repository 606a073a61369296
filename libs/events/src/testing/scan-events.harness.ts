// What the scan event specs share against a real Redis: publishers and hubs on connections of their own (as workers
// and gateway replicas have), a key prefix cleaned up afterwards, and collectors of what a listener receives.
import Redis from 'ioredis';
import { redisKeys, ScanEvent, ScanEventBody } from '@nso/contracts';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from '../../../../test/support/redis';
import { ScanEventHub, ScanEventListener } from '../scan-event-hub';
import { ScanEventLog } from '../scan-event-log';
import { EventLogOptions, ScanEventPublisher, ScanSeqReservations } from '../scan-event-publisher';

/** A `line` event's body. */
export const line = (text: string | number): ScanEventBody => ({
  event: 'line',
  batch_id: 1,
  line: String(text),
});
export const lineOf = (event: ScanEvent): string | null => (event.event === 'line' ? event.line : null);
export const seqsOf = (events: ScanEvent[]): number[] => events.map((event) => event.seq);
/** `[from, …, to]`. */
export const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Collects what a listener receives; waitFor resolves once n events arrived, or fails at a deadline. */
export function sink() {
  const events: ScanEvent[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const listener: ScanEventListener = (batch) => {
    expect(batch.length).toBeGreaterThan(0);
    events.push(...batch);
    for (const waiter of waiters.filter((w) => events.length >= w.count)) waiter.resolve();
  };
  const waitFor = (count: number, timeoutMs = 5_000): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (events.length >= count) return resolve();
      const timer = setTimeout(
        () =>
          reject(new Error(`expected ${count} events, got ${events.length}: ${seqsOf(events).join(',')}`)),
        timeoutMs,
      );
      waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
    });
  return { events, listener, waitFor, seqs: () => seqsOf(events) };
}

/** Polls `condition` every 5 ms until it holds; fails naming `what` at the deadline. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The database's reservations (scans.event_seq_reserved), in memory: one running total per scan. */
export function memoryReservations(): ScanSeqReservations & { calls: number; reserved: Map<number, number> } {
  const reserved = new Map<number, number>();
  const store = {
    calls: 0,
    reserved,
    reserve: async (scanId: number, count: number) => {
      store.calls++;
      await new Promise((resolve) => setTimeout(resolve, 2)); // a database round trip
      const after = reserved.get(scanId) ?? 0;
      reserved.set(scanId, after + count);
      return { after, upTo: after + count };
    },
  };
  return store;
}

/**
 * Registers beforeAll/afterAll for a spec file and gives it Redis connections under a key prefix of its own
 * (`name`), removed with every connection and hub afterwards. `command` and `log` exist once beforeAll ran.
 */
export function scanEventsHarness(name: string) {
  const prefix = testRedisPrefix(name);
  const keys = redisKeys(prefix);
  const connections: Redis[] = [];
  const hubs: ScanEventHub[] = [];
  let nextScanId = 1;
  const connect = (): Redis => {
    const redis = new Redis(testRedisUrl());
    connections.push(redis);
    return redis;
  };
  const harness = {
    keys,
    command: undefined as unknown as Redis,
    log: undefined as unknown as ScanEventLog,
    connect,
    /** A publisher on a connection of its own, as each worker process has. */
    newPublisher: (options: Partial<EventLogOptions> = {}, reservations?: ScanSeqReservations) =>
      new ScanEventPublisher(
        connect(),
        keys,
        { maxLength: 5_000, ttlSeconds: 120, ...options },
        reservations,
      ),
    /** A hub with its own connections, as each gateway replica has; `logOf` makes its replay log. */
    newHub: (logOf = (redis: Redis) => new ScanEventLog(redis, keys)): ScanEventHub => {
      const redis = connect();
      const hub = new ScanEventHub(redis, keys, logOf(redis));
      hubs.push(hub);
      return hub;
    },
    /** A fresh scan (and run) id pair. */
    scan: () => {
      const scanId = nextScanId++;
      return { scanId, resultId: 1000 + scanId };
    },
    /** Subscribers of the scan's channel, over all connections. */
    subscriberCount: async (scanId: number): Promise<number> => {
      const [, count] = (await harness.command.pubsub('NUMSUB', keys.scanChannel(scanId))) as [
        string,
        number,
      ];
      return Number(count);
    },
  };
  beforeAll(() => {
    harness.command = connect();
    harness.log = new ScanEventLog(harness.command, keys);
  });
  afterAll(async () => {
    for (const hub of hubs) hub.onModuleDestroy();
    for (const redis of connections) redis.disconnect();
    await clearRedisPrefix(prefix);
  });
  return harness;
}
