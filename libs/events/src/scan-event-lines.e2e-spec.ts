// Line events in bulk (one entry per nmap stdout read, expanded into one `line` event per line by its readers) and
// seq blocks reserved ahead of need, against a real Redis.
import { BulkLineEvent, ScanEventLog, scanEventJson } from './scan-event-log';
import { ScanEventPublisher, SEQ_BLOCK } from './scan-event-publisher';
import {
  line,
  lineOf,
  memoryReservations,
  range,
  scanEventsHarness,
  seqsOf,
  sink,
} from './testing/scan-events.harness';

const h = scanEventsHarness('event-lines');
const { keys, connect, newPublisher, newHub, scan } = h;

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
    expect(await h.log.readAfter(ref.scanId, 0)).toEqual(received.events);
    // A client resuming in the middle of an entry gets the rest of it, one event per line.
    expect((await h.log.readAfter(ref.scanId, 2)).map(lineOf)).toEqual(['b', 'c', 'd']);
    expect(seqsOf(await h.log.readAfter(ref.scanId, 2, 2))).toEqual([3, 4]);
    const resumed = sink();
    const again = await newHub().subscribe(ref.scanId, { afterSeq: 3 }, resumed.listener);
    expect(resumed.events.map(lineOf)).toEqual(['c', 'd']);
    subscription.close();
    again.close();
  });

  it('writes each expanded line event by template as JSON.stringify writes a line published alone', async () => {
    const ref = scan();
    const publisher = newPublisher();
    const received = sink();
    const subscription = await newHub().subscribe(ref.scanId, {}, received.listener);
    // Text JSON must escape (quotes, backslashes, control characters, a lone surrogate) and text it must not.
    const texts = [
      'plain',
      'quote " and \\ backslash',
      'tab\tnew\nline\u0001',
      'é ü ✓ 😀',
      '\ud800 lone',
      '',
    ];
    for (const text of texts) await publisher.publish(ref, line(text));
    await publisher.publishLines(ref, 2, texts);
    await received.waitFor(2 * texts.length);
    const alone = received.events.slice(0, texts.length);
    const expanded = received.events.slice(texts.length);
    expect(expanded.every((event) => event instanceof BulkLineEvent)).toBe(true);
    expect(alone.some((event) => event instanceof BulkLineEvent)).toBe(false);
    for (const [index, event] of expanded.entries()) {
      expect(scanEventJson(event)).toBe(JSON.stringify(event));
      // The same text as the line published alone, but for seq, batch and time.
      const twin = { ...alone[index], seq: event.seq, batch_id: 2, ts: event.ts };
      expect(scanEventJson(event)).toBe(JSON.stringify(twin));
    }
    subscription.close();
  });

  it('keeps the replay log bounded by events, not entries', async () => {
    const ref = scan();
    const publisher = newPublisher({ maxLength: 5, ttlSeconds: 30 });
    await publisher.publishLines(ref, 1, ['1', '2', '3']);
    await publisher.publishLines(ref, 1, ['4', '5', '6', '7']);
    await publisher.publishLines(ref, 1, ['8', '9']);
    const bounded = new ScanEventLog(connect(), keys, { maxLength: 5, ttlSeconds: 30 });
    const snapshot = await bounded.snapshotAfter(ref.scanId, 0);
    expect(snapshot.lastSeq).toBe(9);
    expect(snapshot.events.map(lineOf)).toEqual(['5', '6', '7', '8', '9']);
    const hub = newHub((redis) => new ScanEventLog(redis, keys, { maxLength: 5, ttlSeconds: 30 }));
    const received = sink();
    const subscription = await hub.subscribe(ref.scanId, { afterSeq: 0 }, received.listener);
    expect(received.seqs()).toEqual([5, 6, 7, 8, 9]);
    subscription.close();
  });

  it('drops the lines of a stopped run, so that none follows its scan_stopped; other events still go out', async () => {
    const ref = scan();
    const publisher = newPublisher();
    const received = sink();
    const subscription = await newHub().subscribe(ref.scanId, {}, received.listener);
    expect(await publisher.publishLines(ref, 1, ['a', 'b'])).toBe(2);
    // RunService.stop marks the run's state stopped before it publishes scan_stopped.
    await h.command.hset(keys.runState(ref.resultId), 'stopped', 1);
    expect((await publisher.publish(ref, { event: 'scan_stopped', scan_id: ref.scanId })).seq).toBe(3);
    // nmap output read before the stop reached the worker, published after it.
    expect(await publisher.publishLines(ref, 1, ['late', 'later'])).toBe(0);
    expect(await publisher.publishLines(ref, 1, ['one more'])).toBe(0);
    // Another run of the scan is not held back by this one's stop.
    const next = { ...ref, resultId: ref.resultId + 1 };
    expect(await publisher.publishLines(next, 1, ['next run'])).toBe(4);

    await received.waitFor(4);
    expect(received.events.map((e) => (e.event === 'line' ? lineOf(e) : e.event))).toEqual([
      'a',
      'b',
      'scan_stopped',
      'next run',
    ]);
    expect(received.seqs()).toEqual([1, 2, 3, 4]);
    expect((await h.log.readAfter(ref.scanId, 0)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    subscription.close();
    await h.command.del(keys.runState(ref.resultId));
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
    expect(Number(await h.command.get(keys.scanSeqLimit(ref.scanId)))).toBe(
      reservations.reserved.get(ref.scanId),
    );
  });
});
