import { upcomingFires } from './job-schedulers';

const iso = (ms: number[]) => ms.map((t) => new Date(t).toISOString());

describe('upcomingFires', () => {
  const from = Date.parse('2026-12-04T10:17:30.000Z'); // a Friday

  it('fires an interval schedule at once, then every interval', () => {
    expect(iso(upcomingFires({ every: 90 * 60_000 }, 3, from))).toEqual([
      '2026-12-04T10:17:30.000Z',
      '2026-12-04T11:47:30.000Z',
      '2026-12-04T13:17:30.000Z',
    ]);
  });

  it('lists the next times of a cron expression in UTC, skipping the weekend', () => {
    expect(iso(upcomingFires({ pattern: '0 2 * * 1-5', tz: 'UTC' }, 3, from))).toEqual([
      '2026-12-07T02:00:00.000Z',
      '2026-12-08T02:00:00.000Z',
      '2026-12-09T02:00:00.000Z',
    ]);
  });

  it('reads the cron expression in its time zone, across a daylight-saving change', () => {
    // Europe/Berlin leaves summer time at 03:00 on 2026-10-25, so 02:00 comes twice that night: the first
    // (summer time, 00:00 UTC) fires; 02:00 is 00:00 UTC before, 01:00 UTC after.
    const before = Date.parse('2026-10-23T12:00:00.000Z');
    expect(iso(upcomingFires({ pattern: '0 2 * * *', tz: 'Europe/Berlin' }, 3, before))).toEqual([
      '2026-10-24T00:00:00.000Z',
      '2026-10-25T00:00:00.000Z',
      '2026-10-26T01:00:00.000Z',
    ]);
  });

  it('never lists a time twice or goes backwards', () => {
    const fires = upcomingFires({ pattern: '*/15 * * * *', tz: 'UTC' }, 5, from);
    expect(iso(fires)).toEqual([
      '2026-12-04T10:30:00.000Z',
      '2026-12-04T10:45:00.000Z',
      '2026-12-04T11:00:00.000Z',
      '2026-12-04T11:15:00.000Z',
      '2026-12-04T11:30:00.000Z',
    ]);
  });
});
