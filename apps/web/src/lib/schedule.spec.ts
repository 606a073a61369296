import { describeSchedule, intervalPreview, looksLikeCron, previewRuns } from './schedule';

describe('schedule helpers', () => {
  it('describes interval, cron and unscheduled scans', () => {
    expect(describeSchedule({ is_scheduled: true, interval_minutes: 60 })).toBe('Every 60 minutes');
    expect(describeSchedule({ is_scheduled: true, interval_minutes: 1 })).toBe('Every 1 minute');
    expect(describeSchedule({ is_scheduled: true, cron: '0 2 * * 1-5', timezone: 'Europe/Berlin' })).toBe(
      'Cron 0 2 * * 1-5 (Europe/Berlin)',
    );
    expect(describeSchedule({ is_scheduled: true, cron: '0 2 * * *', timezone: null })).toBe(
      'Cron 0 2 * * * (UTC)',
    );
    expect(describeSchedule({ is_scheduled: false, interval_minutes: 60 })).toBe('Not scheduled');
  });
  it('previews an interval as at once, then every N minutes', () => {
    const from = new Date('2026-12-06T10:00:00.000Z');
    expect(intervalPreview(from, 90, 3)).toEqual([
      '2026-12-06T10:00:00.000Z',
      '2026-12-06T11:30:00.000Z',
      '2026-12-06T13:00:00.000Z',
    ]);
  });
  it('previews nothing for an interval the gateway refuses', () => {
    const from = new Date();
    expect(intervalPreview(from, 0)).toEqual([]);
    expect(intervalPreview(from, 1.5)).toEqual([]);
    expect(intervalPreview(from, 525_601)).toEqual([]);
  });
  it('checks the five cron fields', () => {
    expect(looksLikeCron('0 2 * * 1-5')).toBe(true);
    expect(looksLikeCron('0 2 * *')).toBe(false);
    expect(looksLikeCron('0 0 2 * * 1')).toBe(false);
  });
  it('reads the preview answer', () => {
    expect(previewRuns({ runs: ['2026-12-07T02:00:00.000Z'] })).toEqual(['2026-12-07T02:00:00.000Z']);
    expect(previewRuns({ next_runs: [{ at: '2026-12-07T02:00:00.000Z' }] })).toEqual([
      '2026-12-07T02:00:00.000Z',
    ]);
    expect(previewRuns({ error: 'x' })).toEqual([]);
    expect(previewRuns(null)).toEqual([]);
  });
});
