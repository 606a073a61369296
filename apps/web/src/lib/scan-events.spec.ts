import {
  applyScanEvent,
  applyScanEvents,
  initialScanLiveState,
  announcedReports,
  nmapPercentOf,
  runPercent,
  ScanEvent,
} from './scan-events';

const ev = (seq: number, event: string, fields: Record<string, unknown> = {}): ScanEvent => ({
  seq,
  event,
  scan_id: 1,
  result_id: 10,
  ...fields,
});

describe('scan events reducer', () => {
  it('follows a run through its batches to completion', () => {
    const s = applyScanEvents(initialScanLiveState, [
      { event: 'connected', scan_id: 1 },
      ev(1, 'batch_start', { batch_id: 1, targets: ['127.0.0.1'], attempt: 1, worker: 'w1' }),
      ev(2, 'batch_start', { batch_id: 2, targets: ['127.0.0.2'], attempt: 1, worker: 'w1' }),
      ev(3, 'batch_complete', { batch_id: 1, summary: { hosts_up: 1, open_ports: 2 } }),
      ev(4, 'progress', { percent: 50, batches_done: 1, batches_failed: 0, batches_total: 2 }),
      ev(5, 'batch_complete', { batch_id: 2, summary: { hosts_up: 1, open_ports: 0 } }),
      ev(6, 'progress', { percent: 100, batches_done: 2, batches_failed: 0, batches_total: 2 }),
      ev(7, 'scan_complete', { status: 'completed' }),
    ]);
    const run = s.runs[10];
    expect(s.lastSeq).toBe(7);
    expect(s.currentResultId).toBe(10);
    expect(run.status).toBe('completed');
    expect(run.batches[1]).toMatchObject({ status: 'completed', hostsUp: 1, openPorts: 2, worker: 'w1' });
    expect(run.batches[2].status).toBe('completed');
    expect(runPercent(run)).toBe(100);
  });

  it('never moves the run bar backwards when progress snapshots arrive out of order', () => {
    const s = applyScanEvents(initialScanLiveState, [
      ev(1, 'progress', { percent: 75, batches_done: 3, batches_failed: 0, batches_total: 4 }),
      ev(2, 'progress', { percent: 50, batches_done: 2, batches_failed: 0, batches_total: 4 }),
    ]);
    expect(s.runs[10].progress).toMatchObject({ percent: 75, done: 3 });
    // A batch's nmap report sent before a finished batch's snapshot that counts it less.
    const t = applyScanEvents(initialScanLiveState, [
      ev(1, 'progress', { percent: 60, batches_done: 2, batches_failed: 0, batches_total: 4, batch_id: 3 }),
      ev(2, 'progress', { percent: 55, batches_done: 2, batches_failed: 0, batches_total: 4 }),
    ]);
    expect(t.runs[10].progress).toMatchObject({ percent: 60, done: 2 });
  });

  it('tells a retried batch from a failed one', () => {
    let s = applyScanEvents(initialScanLiveState, [
      ev(1, 'batch_start', { batch_id: 1, targets: ['127.0.0.1'], attempt: 1 }),
      ev(2, 'batch_failed', { batch_id: 1, error: 'nmap exited 1', attempt: 1, will_retry: true }),
    ]);
    expect(s.runs[10].batches[1]).toMatchObject({ status: 'retrying', error: 'nmap exited 1' });
    s = applyScanEvents(s, [
      ev(3, 'batch_start', { batch_id: 1, targets: ['127.0.0.1'], attempt: 2 }),
      ev(4, 'batch_failed', { batch_id: 1, error: 'nmap exited 1', attempt: 2, will_retry: false }),
    ]);
    expect(s.runs[10].batches[1]).toMatchObject({ status: 'failed', attempt: 2 });
  });

  it('keeps a completed batch completed when a late start or failure arrives', () => {
    const s = applyScanEvents(initialScanLiveState, [
      ev(1, 'batch_complete', { batch_id: 1, summary: { hosts_up: 1, open_ports: 1 } }),
      ev(2, 'batch_start', { batch_id: 1, targets: [], attempt: 1 }),
      ev(3, 'batch_failed', { batch_id: 1, error: 'x', will_retry: false }),
    ]);
    expect(s.runs[10].batches[1].status).toBe('completed');
  });

  it('ends a run stopped or failed, and nothing after that changes its status', () => {
    const stopped = applyScanEvents(initialScanLiveState, [
      ev(1, 'batch_start', { batch_id: 1, targets: [] }),
      ev(2, 'scan_stopped'),
      ev(3, 'scan_complete'),
    ]);
    expect(stopped.runs[10].status).toBe('stopped');
    const failed = applyScanEvents(initialScanLiveState, [
      ev(1, 'scan_failed', { error: 'every batch failed' }),
    ]);
    expect(failed.runs[10]).toMatchObject({ status: 'failed', error: 'every batch failed' });
  });

  it('shows the batches still running when the run was stopped as stopped, keeping the finished ones', () => {
    const s = applyScanEvents(initialScanLiveState, [
      ev(1, 'batch_start', { batch_id: 1, targets: ['127.0.77.0'] }),
      ev(2, 'batch_start', { batch_id: 2, targets: ['127.0.77.8'] }),
      ev(3, 'line', { batch_id: 1, line: 'Connect Scan Timing: About 12.87% done' }),
      ev(4, 'batch_complete', { batch_id: 2, summary: { hosts_up: 1, open_ports: 0 } }),
      ev(5, 'batch_failed', { batch_id: 3, will_retry: true, error: 'nmap exited 1' }),
      ev(6, 'scan_stopped'),
      // The killed nmap's own failure, after the stop: the batch stays stopped.
      ev(7, 'batch_failed', { batch_id: 1, will_retry: false, error: 'killed' }),
    ]);
    expect(s.runs[10].batches[1]).toMatchObject({ status: 'stopped', percent: 12.87 });
    expect(s.runs[10].batches[2].status).toBe('completed');
    expect(s.runs[10].batches[3].status).toBe('stopped');
  });

  it('takes a report as the end of a run whose other events it never saw (an import, a trimmed log)', () => {
    const s = applyScanEvents(initialScanLiveState, [
      ev(1, 'scan_complete'),
      { ...ev(2, 'delta_report', { report_id: 3, summary: { has_changes: true } }), result_id: 11 },
    ]);
    expect(s.currentResultId).toBe(11);
    expect(s.runs[11].status).toBe('completed');
    expect(runPercent(s.runs[11])).toBe(100);
  });

  it('ignores replayed events at or below the last seq (a reconnect with ?since=)', () => {
    const s = applyScanEvents(initialScanLiveState, [ev(5, 'batch_start', { batch_id: 1, targets: [] })]);
    expect(applyScanEvent(s, ev(5, 'scan_stopped'))).toBe(s);
    expect(applyScanEvent(s, ev(4, 'scan_stopped'))).toBe(s);
    // Seqs may jump forward after a Redis loss: still applied.
    expect(applyScanEvent(s, ev(1005, 'scan_stopped')).runs[10].status).toBe('stopped');
  });

  it('follows the newest run and keeps unassigned targets and reports per run', () => {
    const s = applyScanEvents(initialScanLiveState, [
      ev(1, 'targets_unassigned', { targets: ['127.0.51.0/24'], clients_triggered: 1 }),
      ev(2, 'scan_complete'),
      { ...ev(3, 'delta_report', { report_id: 4, summary: { has_changes: true } }) },
      { ...ev(4, 'batch_start', { batch_id: 1, targets: [] }), result_id: 11 },
    ]);
    expect(s.currentResultId).toBe(11);
    expect(s.runs[10].unassigned).toEqual(['127.0.51.0/24']);
    expect(s.runs[10].reports).toEqual([{ reportId: 4, hasChanges: true, verifyResultId: null }]);
    expect(s.runs[11].status).toBe('running');
  });

  it('keeps announcing a report whose run is no longer the newest (the verification rescan ran after it)', () => {
    // docs/api.md: a scan that verifies its changes announces the report of run 10 after its rescan, run 11, ends.
    const s = applyScanEvents(initialScanLiveState, [
      ev(1, 'scan_complete'),
      { ...ev(2, 'batch_start', { batch_id: 1, targets: ['127.0.77.5'] }), result_id: 11 },
      { ...ev(3, 'scan_complete'), result_id: 11 },
      {
        ...ev(4, 'delta_report', {
          report_id: 4,
          current_result_id: 10,
          summary: { has_changes: true },
          verification: { status: 'done', result_id: 11 },
        }),
      },
    ]);
    expect(s.currentResultId).toBe(11);
    expect(announcedReports(s)).toEqual([{ reportId: 4, hasChanges: true, verifyResultId: 11 }]);
  });

  it("leaves out the reports of older runs (a replayed log), keeping the followed run's own", () => {
    const s = applyScanEvents(initialScanLiveState, [
      { ...ev(1, 'delta_report', { report_id: 2, verification: { result_id: 8 } }), result_id: 7 },
      ev(2, 'delta_report', { report_id: 5 }),
      ev(3, 'delta_report', { report_id: 5 }),
    ]);
    expect(announcedReports(s)).toEqual([{ reportId: 5, hasChanges: true, verifyResultId: null }]);
    expect(announcedReports(initialScanLiveState)).toEqual([]);
  });

  it("takes nmap's own percentage from its timing lines, never backwards", () => {
    expect(nmapPercentOf('Connect Scan Timing: About 42.50% done; ETC: 10:00 (0:00:10 remaining)')).toBe(
      42.5,
    );
    expect(nmapPercentOf('22/tcp open ssh')).toBeNull();
    const s = applyScanEvents(initialScanLiveState, [
      ev(1, 'batch_start', { batch_id: 1, targets: [] }),
      ev(2, 'line', { batch_id: 1, line: 'SYN Stealth Scan Timing: About 60.00% done' }),
      ev(3, 'line', { batch_id: 1, line: 'Service scan Timing: About 10.00% done' }),
    ]);
    expect(s.runs[10].batches[1].percent).toBe(60);
  });

  it('returns the same state for events that change nothing', () => {
    const s = applyScanEvents(initialScanLiveState, [ev(1, 'batch_start', { batch_id: 1, targets: [] })]);
    const same = applyScanEvent(s, { event: 'connected', scan_id: 1 });
    expect(same).toBe(s);
  });
});
