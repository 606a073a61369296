import { batchPercent, BatchProgressReport, etaSeconds, runProgressOf } from './run-progress';

const report = (fields: Partial<BatchProgressReport>): BatchProgressReport => ({
  percent: 0,
  hostsDone: 0,
  hostsTotal: 256,
  at: 0,
  ...fields,
});

describe('etaSeconds', () => {
  it.each([
    [40, 60, 90],
    [50, 30, 30],
    [25, 10, 30],
    [99.99, 100, 1],
    [1, 1, 99],
  ])('at %d %% after %d s the rest takes %d s at the same rate', (percent, elapsed, eta) => {
    expect(etaSeconds(percent, elapsed)).toBe(eta);
  });

  it('is 0 at 100 % and unknown before any progress or without a start', () => {
    expect(etaSeconds(100, 12)).toBe(0);
    expect(etaSeconds(100, undefined)).toBe(0);
    expect(etaSeconds(0, 12)).toBeNull();
    expect(etaSeconds(30, undefined)).toBeNull();
  });
});

describe('batchPercent', () => {
  it('takes nmap’s percent of a port scan task over every address not done when the host group is unknown', () => {
    const report = { task: 'Connect Scan', taskPercent: 42.5, hostsDone: 0, hostsTotal: 256 };
    expect(batchPercent(0, report)).toBe(42.5);
    expect(batchPercent(0, { ...report, taskPercent: 50, hostsDone: 128 })).toBe(75);
  });

  it('counts the hosts done and the task percent of the host group nmap is on (its "Stats:" line)', () => {
    // nmap on a /24 × 1000 ports: "Stats: … 64 hosts completed (128 up), 64 undergoing Connect Scan", then
    // "Connect Scan Timing: About 31.91% done": (64 + 64 × 0.3191) / 256.
    const report = {
      task: 'Connect Scan',
      taskPercent: 31.91,
      hostsDone: 64,
      hostsTotal: 256,
      undergoing: 64,
    };
    expect(batchPercent(0, report)).toBeCloseTo(32.98, 2);
    expect(batchPercent(0, { ...report, task: undefined, taskPercent: undefined })).toBe(25);
  });

  it('is the previous value for a batch of no address', () => {
    expect(batchPercent(3, { task: 'Connect Scan', taskPercent: 50, hostsDone: 0, hostsTotal: 0 })).toBe(3);
  });

  it('does not count host discovery and name resolution, which end in a moment', () => {
    for (const task of ['Ping Scan', 'ARP Ping Scan', 'Parallel DNS resolution of 256 hosts.']) {
      expect(batchPercent(0, { task, taskPercent: 100, hostsDone: 0, hostsTotal: 256 })).toBe(0);
    }
  });

  it('never goes back, e.g. when -sV’s Service scan starts after the Connect Scan', () => {
    const afterScan = batchPercent(0, { task: 'Connect Scan', taskPercent: 99, hostsDone: 0, hostsTotal: 4 });
    expect(
      batchPercent(afterScan, { task: 'Service scan', taskPercent: 5, hostsDone: 0, hostsTotal: 4 }),
    ).toBe(99);
  });
});

describe('runProgressOf', () => {
  const base = { done: 0, failed: 0, total: 4, running: new Map(), hostsFinished: 0, now: 100_000 };

  it('counts finished batches whole and running ones by their percent; ETA at the rate since the start', () => {
    const view = runProgressOf({
      ...base,
      done: 1,
      running: new Map([
        [2, report({ percent: 50, hostsDone: 10 })],
        [3, report({ percent: 30, hostsDone: 0 })],
      ]),
      hostsTotal: 1024,
      hostsFinished: 256,
      startedAt: 100_000 - 45_000,
    });
    // (1 + 0.5 + 0.3) / 4 = 45 %, after 45 s: 55 s to go.
    expect(view).toEqual({
      percent: 45,
      batches_done: 1,
      batches_failed: 0,
      batches_total: 4,
      hosts_done: 266,
      hosts_total: 1024,
      eta_seconds: 55,
    });
  });

  it('counts failed batches as finished, and is 100 % with ETA 0 only when every batch is', () => {
    expect(runProgressOf({ ...base, done: 3, failed: 1 })).toMatchObject({ percent: 100, eta_seconds: 0 });
    const almost = runProgressOf({ ...base, done: 3, running: new Map([[4, report({ percent: 100 })]]) });
    expect(almost.percent).toBe(99.99);
  });

  it('lets no report add more than the unfinished batches (one that raced its batch’s end)', () => {
    const view = runProgressOf({
      ...base,
      done: 3,
      running: new Map([
        [1, report({ percent: 100 })],
        [4, report({ percent: 100 })],
      ]),
    });
    expect(view.percent).toBe(99.99);
  });

  it('rounds the percent down to two decimals and has no ETA without a start or any progress', () => {
    const view = runProgressOf({ ...base, total: 3, running: new Map([[1, report({ percent: 100 })]]) });
    expect(view).toMatchObject({ percent: 33.33, eta_seconds: null, hosts_total: null });
    expect(runProgressOf({ ...base, startedAt: 0 }).eta_seconds).toBeNull();
  });

  it('counts every address done once every batch completed, even one whose hosts were never reported', () => {
    // Batch 4 ended before its first report reached Redis: its 256 addresses are not in hostsFinished.
    const view = runProgressOf({ ...base, done: 4, hostsTotal: 1024, hostsFinished: 768 });
    expect(view).toMatchObject({ percent: 100, hosts_done: 1024, hosts_total: 1024 });
    // With a failed batch its addresses are not done.
    expect(
      runProgressOf({ ...base, done: 3, failed: 1, hostsTotal: 1024, hostsFinished: 768 }),
    ).toMatchObject({ hosts_done: 768 });
  });

  it('is 100 % for a run without batches', () => {
    expect(runProgressOf({ ...base, total: 0 }).percent).toBe(100);
  });
});
