// Line events in bulk (one entry per nmap stdout read, expanded into one `line` event per line by its readers) and
// seq blocks reserved ahead of need, against a real Redis.
import Redis from 'ioredis';
import { redisKeys, ScanEvent, ScanEventBody } from '@nso/contracts';
import { clearRedisPrefix, testRedisPrefix, testRedisUrl } from '../../../test/support/redis';
import { ScanEventHub, ScanEventListener } from './scan-event-hub';
import { ScanEventLog } from './scan-event-log';
import { EventLogOptions, ScanEventPublisher, ScanSeqReservations, SEQ_BLOCK } from './scan-event-publisher';

const prefix = testRedisPrefix('event-lines');
const keys = redisKeys(prefix);
const connections: Redis[] = [];
const hubs: ScanEventHub[] = [];
let command: Redis;
let log: ScanEventLog;
let nextScanId = 1;

function connect(): Redis {
  const redis = new Redis(testRedisUrl());
  connections.push(redis);
  return redis;
}

function newPublisher(options: Partial<EventLogOptions> = {}): ScanEventPublisher {
  return new ScanEventPublisher(connect(), keys, { maxLength: 5_000, ttlSeconds: 120, ...options });
}

function newHub(): ScanEventHub {
  const redis = connect();
  const hub = new ScanEventHub(redis, keys, new ScanEventLog(redis, keys));
  hubs.push(hub);
  return hub;
}

const scan = () => {
  const scanId = nextScanId++;
  return { scanId, resultId: 1000 + scanId };
};
const line = (text: string | number): ScanEventBody => ({ event: 'line', batch_id: 1, line: String(text) });
const lineOf = (event: ScanEvent): string | null => (event.event === 'line' ? event.line : null);
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
const seqsOf = (events: ScanEvent[]): number[] => events.map((event) => event.seq);

/** Collects what a listener receives; waitFor resolves once n events arrived, or fails at a deadline. */
function sink() {
  const events: ScanEvent[] = [];
  let wake = () => undefined as void;
  const listener: ScanEventListener = (batch) => {
    events.push(...batch);
    wake();
  };
  const waitFor = async (count: number, timeoutMs = 5_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (events.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} events, got ${events.length}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 20);
      });
    }
  };
  return { events, listener, waitFor, seqs: () => seqsOf(events) };
}

/** The database's reservations (scans.event_seq_reserved), in memory: one running total per scan. */
function memoryReservations(): ScanSeqReservations & { calls: number; reserved: Map<number, number> } {
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

beforeAll(() => {
  command = connect();
  log = new ScanEventLog(command, keys);
});

afterAll(async () => {
  for (const hub of hubs) hub.onModuleDestroy();
  for (const redis of connections) redis.disconnect();
  await clearRedisPrefix(prefix);
});

describe('ScanEventPublisher.publishLines', () => {
  it('reaches subscribers and the log as one line event per line, shaped as lines published one by one', async () => {
    const ref = scan();
    const publisher = newPublisher();
    const received = sink();
    const subscription = await newHub().subscribe(ref.scanId, {}, received.listener);
    const one = await publisher.publish(ref, line('alone'));
    expect(await publisher.publishLines(ref, 1, ['a', 'b', 'c'])).toBe(4);
    expect(await publisher.publishLines(ref, 1, ['d'])).toBe(5);
    expect(await publisher.publishLines(ref, 1, [])).toBe(0);

    await received.waitFor(5);
    expect(received.seqs()).toEqual(range(1, 5));
    expect(received.events.map(lineOf)).toEqual(['alone', 'a', 'b', 'c', 'd']);
    // Byte for byte what a line published alone looks like, but for seq, text and time.
    const expanded = received.events[2];
    expect(Object.keys(expanded)).toEqual(Object.keys(one));
    expect(expanded).toEqual({ ...one, seq: 3, line: 'b', ts: expanded.ts });
    expect(await log.readAfter(ref.scanId, 0)).toEqual(received.events);
    // A client resuming in the middle of an entry gets the rest of it, one event per line.
    expect((await log.readAfter(ref.scanId, 2)).map(lineOf)).toEqual(['b', 'c', 'd']);
    expect(seqsOf(await log.readAfter(ref.scanId, 2, 2))).toEqual([3, 4]);
    const resumed = sink();
    const again = await newHub().subscribe(ref.scanId, { afterSeq: 3 }, resumed.listener);
    expect(resumed.events.map(lineOf)).toEqual(['c', 'd']);
    subscription.close();
    again.close();
  });

  it('keeps the replay log bounded by events, not entries', async () => {
    const ref = scan();
    const publisher = newPublisher({ maxLength: 5, ttlSeconds: 30 });
    await publisher.publishLines(ref, 1, ['1', '2', '3']);
    await publisher.publishLines(ref, 1, ['4', '5', '6', '7']);
    await publisher.publishLines(ref, 1, ['8', '9']);
    const redis = connect();
    const bounded = new ScanEventLog(redis, keys, { maxLength: 5, ttlSeconds: 30 });
    const snapshot = await bounded.snapshotAfter(ref.scanId, 0);
    expect(snapshot.lastSeq).toBe(9);
    expect(snapshot.events.map(lineOf)).toEqual(['5', '6', '7', '8', '9']);
    const hub = new ScanEventHub(redis, keys, bounded);
    hubs.push(hub);
    const received = sink();
    const subscription = await hub.subscribe(ref.scanId, { afterSeq: 0 }, received.listener);
    expect(received.seqs()).toEqual([5, 6, 7, 8, 9]);
    subscription.close();
  });
});

describe('ScanEventPublisher with durable seq reservations', () => {
  it('reserves the next block ahead, sized by demand, so a busy scan is never refused for a refill', async () => {
    const ref = scan();
    const reservations = memoryReservations();
    const publisher = new ScanEventPublisher(
      connect(),
      keys,
      { maxLength: 10_000, ttlSeconds: 120 },
      reservations,
    );
    await publisher.ensureCounter(ref.scanId);
    const refused = jest.spyOn(publisher as unknown as { refused: () => void }, 'refused');
    let last = 0;
    for (let i = 0; i < 200; i++) {
      const text = range(1, 50).map((n) => `${i}.${n}`);
      const published = [publisher.publishLines(ref, 1, text), publisher.publishLines(ref, 1, text)];
      last = Math.max(...(await Promise.all(published)));
      // Time for a database round trip (the fake's 2 ms) between two stdout reads, as nmap's output gives: a
      // block is refilled when half of it is left, here 5 reads ahead at the least.
      await new Promise((resolve) => setTimeout(resolve, 4));
    }
    expect(last).toBe(20_000);
    expect(refused).not.toHaveBeenCalled();
    // Blocks grew: far fewer reservations than one per SEQ_BLOCK events.
    expect(reservations.calls).toBeLessThan(20_000 / SEQ_BLOCK / 2);
    expect(Number(await command.get(keys.scanSeqLimit(ref.scanId)))).toBe(
      reservations.reserved.get(ref.scanId),
    );
  });
});
