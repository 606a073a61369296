// The per-scan event stream against a real Redis: seq order, replay then live without gaps or duplicates,
// fan-out to several gateways, the bounded log, and subscription bookkeeping.
import Redis from 'ioredis';
import { ScanEvent } from '@nso/contracts';
import { ScanEventPublisher, ScanSeqReservations, SEQ_BLOCK } from './scan-event-publisher';
import {
  line,
  lineOf,
  memoryReservations,
  range,
  scanEventsHarness,
  seqsOf,
  sink,
  until,
} from './testing/scan-events.harness';

const h = scanEventsHarness('events');
const { keys, connect, newPublisher, newHub, scan, subscriberCount } = h;

describe('ScanEventPublisher', () => {
  it('gives strictly increasing seqs across publishers racing on one scan, and logs in seq order', async () => {
    const ref = scan();
    const [first, second] = [newPublisher(), newPublisher()];
    const published: Array<Promise<ScanEvent>> = [];
    for (let i = 0; i < 500; i++) {
      published.push(first.publish(ref, line(`a${i}`)), second.publish(ref, line(`b${i}`)));
    }
    const events = await Promise.all(published);

    expect([...seqsOf(events)].sort((a, b) => a - b)).toEqual(range(1, 1000));
    // Each publisher's own calls executed in call order.
    for (const tag of ['a', 'b']) {
      const own = events.filter((event) => lineOf(event)?.startsWith(tag));
      expect(own.map(lineOf)).toEqual(range(0, 499).map((i) => `${tag}${i}`));
      expect(seqsOf(own)).toEqual([...seqsOf(own)].sort((a, b) => a - b));
    }
    const raw = await h.command.zrange(keys.scanLog(ref.scanId), 0, -1, 'WITHSCORES');
    const logged = range(0, raw.length / 2 - 1).map((i) => ({
      seq: Number(raw[2 * i + 1]),
      json: raw[2 * i],
    }));
    expect(logged.map((entry) => entry.seq)).toEqual(range(1, 1000));
    expect(logged.map((entry) => (JSON.parse(entry.json) as ScanEvent).seq)).toEqual(range(1, 1000));
    expect(await h.log.readAfter(ref.scanId, 0)).toEqual([...events].sort((a, b) => a.seq - b.seq));
  });

  it('writes the event as subscribers see it: seq first, then the body, scan, run and time', async () => {
    const ref = scan();
    const event = await newPublisher().publish(ref, {
      event: 'batch_start',
      batch_id: 2,
      targets: ['127.0.0.1'],
      attempt: 1,
      worker: 'worker-1',
    });
    const [raw] = await h.command.zrange(keys.scanLog(ref.scanId), 0, -1);
    expect(raw).toMatch(/^\{"seq":1,"event":"batch_start","batch_id":2,/);
    expect(JSON.parse(raw)).toEqual(event);
    expect(event).toEqual({
      seq: 1,
      event: 'batch_start',
      batch_id: 2,
      targets: ['127.0.0.1'],
      attempt: 1,
      worker: 'worker-1',
      scan_id: ref.scanId,
      result_id: ref.resultId,
      ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('publishes several events in one call with consecutive seqs', async () => {
    const ref = scan();
    const publisher = newPublisher();
    await publisher.publish(ref, line('before'));
    const events = await publisher.publishMany(ref, [line(1), line(2), line(3)]);
    expect(events.map((event) => [event.seq, lineOf(event)])).toEqual([
      [2, '1'],
      [3, '2'],
      [4, '3'],
    ]);
    expect(await publisher.publishMany(ref, [])).toEqual([]);
    expect(await h.log.lastSeq(ref.scanId)).toBe(4);
  });

  it('keeps only the newest maxLength events, with a TTL on the log but a counter that never restarts', async () => {
    const ref = scan();
    const publisher = newPublisher({ maxLength: 5, ttlSeconds: 30 });
    for (let i = 1; i <= 9; i++) await publisher.publish(ref, line(i));
    await publisher.publishMany(ref, [line(10), line(11), line(12)]);

    expect(await h.command.zcard(keys.scanLog(ref.scanId))).toBe(5);
    expect(seqsOf(await h.log.readAfter(ref.scanId, 0))).toEqual([8, 9, 10, 11, 12]);
    expect(seqsOf(await h.log.readAfter(ref.scanId, 9, 2))).toEqual([10, 11]);
    expect(await h.log.lastSeq(ref.scanId)).toBe(12);
    const ttl = await h.command.ttl(keys.scanLog(ref.scanId));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
    expect(await h.command.ttl(keys.scanSeq(ref.scanId))).toBe(-1);

    // A client asking from before what the log still holds gets what is there, in order.
    const received = sink();
    const subscription = await newHub().subscribe(ref.scanId, { afterSeq: 3 }, received.listener);
    expect(received.seqs()).toEqual([8, 9, 10, 11, 12]);
    subscription.close();

    await h.log.clear(ref.scanId);
    expect(await h.log.lastSeq(ref.scanId)).toBe(0);
    expect(await h.log.readAfter(ref.scanId, 0)).toEqual([]);
  });
});

const reservingPublisher = (reservations: ScanSeqReservations): ScanEventPublisher =>
  newPublisher({ maxLength: 10_000 }, reservations);

describe('ScanEventPublisher with durable seq reservations', () => {
  it('hands out seqs in reserved blocks, in call order across blocks and racing publishers', async () => {
    const ref = scan();
    const reservations = memoryReservations();
    const [first, second] = [reservingPublisher(reservations), reservingPublisher(reservations)];
    const published: Array<Promise<ScanEvent[]>> = [];
    for (let i = 0; i < 1200; i++) {
      published.push(
        first.publishMany(ref, [line(`a${i}`)]),
        second.publishMany(ref, [line(`b${i}`), line(`b${i}`)]),
      );
    }
    const events = (await Promise.all(published)).flat();

    expect([...seqsOf(events)].sort((a, b) => a - b)).toEqual(range(1, 3600));
    for (const tag of ['a', 'b']) {
      const own = events.filter((event) => lineOf(event)?.startsWith(tag));
      expect(seqsOf(own)).toEqual([...seqsOf(own)].sort((a, b) => a - b));
      expect([...new Set(own.map(lineOf))]).toEqual(range(0, 1199).map((i) => `${tag}${i}`));
    }
    // Never past the database's reservation.
    expect(Number(await h.command.get(keys.scanSeqLimit(ref.scanId)))).toBe(
      reservations.reserved.get(ref.scanId),
    );
    expect(reservations.calls).toBeLessThanOrEqual(3600 / SEQ_BLOCK + 3);
  });

  it('continues above every seq ever published when Redis loses the counter, in call order', async () => {
    const ref = scan();
    const reservations = memoryReservations();
    const publisher = reservingPublisher(reservations);
    const before = await Promise.all(range(1, 29).map((i) => publisher.publish(ref, line(i))));
    expect(seqsOf(before)).toEqual(range(1, 29));

    // What a Redis restarted empty (or FLUSHALL) leaves of this scan: nothing.
    await h.command.del(keys.scanSeq(ref.scanId), keys.scanSeqLimit(ref.scanId), keys.scanLog(ref.scanId));
    const received = sink();
    const subscription = await newHub().subscribe(ref.scanId, { afterSeq: 29 }, received.listener);
    const after = await Promise.all(range(30, 59).map((i) => publisher.publish(ref, line(i))));

    const seqs = seqsOf(after);
    expect(seqs[0]).toBeGreaterThan(29);
    expect(seqs).toEqual(range(seqs[0], seqs[0] + 29));
    expect(after.map(lineOf)).toEqual(range(30, 59).map(String));
    // A client resuming after the last seq it saw gets what followed.
    await received.waitFor(30);
    expect(received.events.map(lineOf)).toEqual(range(30, 59).map(String));
    subscription.close();
  });

  it('does not seed a lost counter from a block reserved before the loss', async () => {
    const ref = scan();
    const reservations = memoryReservations();
    const publisher = reservingPublisher(reservations);
    await publisher.publish(ref, line('first')); // reserves (0, 1000]
    // A stale block (0, 1000] applied after the loss must not create the counter at 0 …
    await h.command.del(keys.scanSeq(ref.scanId), keys.scanSeqLimit(ref.scanId));
    const raw = connect() as Redis & { nsoReserveScanSeqs?: unknown };
    new ScanEventPublisher(raw, keys, { maxLength: 100, ttlSeconds: 60 }, reservations);
    expect(
      await (raw as unknown as Record<string, (...args: unknown[]) => Promise<number>>).nsoReserveScanSeqs(
        keys.scanSeq(ref.scanId),
        keys.scanSeqLimit(ref.scanId),
        0,
        1000,
        '0',
      ),
    ).toBe(0);
    expect(await h.command.exists(keys.scanSeq(ref.scanId))).toBe(0);
    // … while a block reserved after it was seen missing does, above everything reserved so far.
    const next = await publisher.publish(ref, line('second'));
    expect(next.seq).toBe(1001);
  });
});

describe('ScanEventHub', () => {
  it('delivers 1000 unawaited publishes of one publisher in call order', async () => {
    const ref = scan();
    const received = sink();
    const subscription = await newHub().subscribe(ref.scanId, {}, received.listener);
    // A fresh connection: these are queued before it is ready, and the first goes out as EVAL.
    const publisher = newPublisher();
    const published = range(0, 999).map((i) => publisher.publish(ref, line(i)));

    await received.waitFor(1000);
    expect(received.events.map(lineOf)).toEqual(range(0, 999).map(String));
    expect(received.seqs()).toEqual(range(1, 1000));
    expect(seqsOf(await Promise.all(published))).toEqual(range(1, 1000));
    subscription.close();
  });

  it('gives a late subscriber every event once, in order, across the replay-to-live boundary', async () => {
    const hubs = [newHub(), newHub()];
    const publisher = newPublisher();
    for (let round = 0; round < 6; round++) {
      const ref = scan();
      await publisher.publishMany(ref, range(1, 50).map(line));
      let produced = 50;
      const producer = (async () => {
        while (produced < 400) {
          const batch = range(produced + 1, Math.min(produced + 4, 400));
          produced += batch.length;
          await Promise.all(batch.map((i) => publisher.publish(ref, line(i))));
        }
      })();
      // Join at a different point of the stream each round, while the producer keeps going.
      await until(() => produced >= 50 + round * 40, 'the producer');
      const sinks = [sink(), sink()];
      const subscriptions = await Promise.all(
        hubs.map((hub, i) => hub.subscribe(ref.scanId, {}, sinks[i].listener)),
      );
      for (const subscription of subscriptions)
        expect(subscription.lastSeqAtStart).toBeGreaterThanOrEqual(50);
      await producer;

      for (const received of sinks) {
        await received.waitFor(400);
        expect(received.seqs()).toEqual(range(1, 400));
        expect(received.events.map(lineOf)).toEqual(range(1, 400).map(String));
      }
      for (const subscription of subscriptions) subscription.close();
    }
  });

  it('resumes after a given seq, announcing the last seq before the replay', async () => {
    const ref = scan();
    const publisher = newPublisher();
    await publisher.publishMany(ref, range(1, 20).map(line));
    const seen: Array<string | number> = [];
    const received = sink();
    const subscription = await newHub().subscribe(
      ref.scanId,
      { afterSeq: 12, onStart: (lastSeq) => seen.push(`start ${lastSeq}`) },
      (batch) => {
        seen.push(...seqsOf([...batch]));
        received.listener(batch);
      },
    );
    expect(subscription.lastSeqAtStart).toBe(20);
    expect(seen).toEqual(['start 20', ...range(13, 20)]);

    await publisher.publish(ref, line(21));
    await received.waitFor(9);
    expect(received.seqs()).toEqual(range(13, 21));
    subscription.close();
  });

  it('hands a burst to every local listener as one shared batch, not event by event', async () => {
    const ref = scan();
    const hub = newHub();
    const batches: Array<Array<readonly ScanEvent[]>> = [[], []];
    const sinks = [sink(), sink()];
    const subscriptions = await Promise.all(
      sinks.map((received, i) =>
        hub.subscribe(ref.scanId, {}, (batch) => {
          batches[i].push(batch);
          received.listener(batch);
        }),
      ),
    );
    // 200 publishes of one line each, as fast as they go: what arrives in one turn of the event loop goes together.
    const publisher = newPublisher();
    await Promise.all(range(1, 200).map((n) => publisher.publish(ref, line(n))));
    await Promise.all(sinks.map((received) => received.waitFor(200)));
    for (const received of sinks) expect(received.seqs()).toEqual(range(1, 200));
    expect(batches[0].length).toBeLessThan(200);
    // The same array objects: a transport encodes each batch once for every subscriber.
    expect(batches[1]).toHaveLength(batches[0].length);
    batches[0].forEach((batch, index) => expect(batches[1][index]).toBe(batch));
    subscriptions.forEach((subscription) => subscription.close());
  });

  it('fans one published event out to every gateway', async () => {
    const ref = scan();
    const [gatewayA, gatewayB] = [newHub(), newHub()];
    const [atA, atB] = [sink(), sink()];
    const subscriptions = [
      await gatewayA.subscribe(ref.scanId, {}, atA.listener),
      await gatewayB.subscribe(ref.scanId, {}, atB.listener),
    ];
    const event = await newPublisher().publish(ref, {
      event: 'scan_complete',
      scan_id: ref.scanId,
      status: 'completed',
    });

    await Promise.all([atA.waitFor(1), atB.waitFor(1)]);
    expect(atA.events).toEqual([event]);
    expect(atB.events).toEqual([event]);
    for (const subscription of subscriptions) subscription.close();
  });

  it('unsubscribes the channel when the last local listener leaves, and can subscribe again', async () => {
    const ref = scan();
    const hub = newHub();
    const publisher = newPublisher();
    const [first, second] = [sink(), sink()];
    const subscriptionA = await hub.subscribe(ref.scanId, {}, first.listener);
    const subscriptionB = await hub.subscribe(ref.scanId, {}, second.listener);
    expect(hub.listenerCount(ref.scanId)).toBe(2);
    expect(await subscriberCount(ref.scanId)).toBe(1);

    subscriptionA.close();
    subscriptionA.close();
    expect(hub.listenerCount(ref.scanId)).toBe(1);
    await publisher.publish(ref, line('only B'));
    await second.waitFor(1);
    expect(first.events).toEqual([]);

    subscriptionB.close();
    subscriptionB.close();
    expect(hub.listenerCount(ref.scanId)).toBe(0);
    await until(async () => (await subscriberCount(ref.scanId)) === 0, 'the channel to be unsubscribed');

    const third = sink();
    const subscriptionC = await hub.subscribe(ref.scanId, { afterSeq: 1 }, third.listener);
    expect(await subscriberCount(ref.scanId)).toBe(1);
    await publisher.publish(ref, line('again'));
    await third.waitFor(1);
    expect(third.events.map(lineOf)).toEqual(['again']);
    subscriptionC.close();
  });

  it('keeps delivering to other listeners, and to the same one, when a listener throws', async () => {
    const ref = scan();
    const hub = newHub();
    let calls = 0;
    const received = sink();
    const failing = await hub.subscribe(ref.scanId, {}, (batch) => {
      calls += batch.length;
      throw new Error('listener bug');
    });
    const working = await hub.subscribe(ref.scanId, {}, received.listener);
    await newPublisher().publishMany(ref, [line(1), line(2), line(3)]);
    await received.waitFor(3);
    expect(received.seqs()).toEqual([1, 2, 3]);
    await until(() => calls === 3, 'the failing listener to see every event');
    failing.close();
    working.close();
  });

  it('fills a lost live message from the log', async () => {
    const ref = scan();
    const publisher = newPublisher();
    const received = sink();
    const subscription = await newHub().subscribe(ref.scanId, {}, received.listener);
    await publisher.publishMany(ref, [line(1), line(2)]);
    await received.waitFor(2);

    // Seq 3 reaches the log but its message is lost on the way.
    const lost = `{"seq":3,"event":"line","batch_id":1,"line":"3","scan_id":${ref.scanId},"result_id":${ref.resultId},"ts":"x"}`;
    await h.command.multi().incr(keys.scanSeq(ref.scanId)).zadd(keys.scanLog(ref.scanId), 3, lost).exec();
    await publisher.publish(ref, line(4));

    await received.waitFor(4);
    expect(received.seqs()).toEqual([1, 2, 3, 4]);
    subscription.close();
  });

  it('catches up from the log after its subscriber connection drops', async () => {
    const ref = scan();
    const hub = newHub();
    const publisher = newPublisher();
    const received = sink();
    const subscription = await hub.subscribe(ref.scanId, {}, received.listener);
    await publisher.publish(ref, line(1));
    await received.waitFor(1);

    (hub as unknown as { hub: { subscriber: Redis } }).hub.subscriber.stream.destroy();
    await publisher.publishMany(ref, range(2, 6).map(line));

    // Nothing more is published: the reconnect alone must bring 2..6.
    await received.waitFor(6);
    await publisher.publish(ref, line(7));
    await received.waitFor(7);
    expect(received.seqs()).toEqual(range(1, 7));
    subscription.close();
  });
});
