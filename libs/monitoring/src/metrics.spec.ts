import { Gauge } from 'prom-client';
import { COLLECT_TIMEOUT_MS, Metrics } from './metrics';

describe('Metrics.scrape', () => {
  it('answers in time when a collector hangs (Redis away), with every other gauge and counter', async () => {
    const metrics = new Metrics();
    const rows = new Gauge({ name: 'test_rows', help: 'rows', registers: [metrics.registry] });
    const queue = new Gauge({ name: 'test_queue', help: 'queue', registers: [metrics.registry] });
    queue.set(4); // what the last scrape read
    metrics.batchesStalled.inc();
    // As BullMQ's getJobCounts while Redis does not answer: its commands wait for a reconnect, without end.
    metrics.addCollector(() => new Promise<void>(() => undefined));
    metrics.addCollector(async () => rows.set(7));

    const started = Date.now();
    const text = await metrics.scrape();
    expect(Date.now() - started).toBeLessThan(COLLECT_TIMEOUT_MS + 1_000);
    expect(text).toMatch(/^test_rows 7$/m);
    expect(text).toMatch(/^test_queue 4$/m);
    expect(text).toMatch(/^nso_batches_stalled_total 1$/m);
  });
});
