import { CLOCK_SKEW_GRACE_SECONDS, fixedWindowAt, secondsUntil } from './fixed-window';

const at = (iso: string) => Date.parse(iso);

describe('fixedWindowAt', () => {
  it('puts an instant in the hour that contains it and resets at the next full hour', () => {
    const window = fixedWindowAt(at('2026-01-15T10:30:00.000Z'), 3600);
    expect(window.resetAt).toBe(at('2026-01-15T11:00:00Z') / 1000);
    expect(window.index).toBe(at('2026-01-15T10:00:00Z') / 3_600_000);
    expect(window.ttlSeconds).toBe(1800 + CLOCK_SKEW_GRACE_SECONDS);
  });

  it('starts a new window exactly at the boundary, not a millisecond before', () => {
    const before = fixedWindowAt(at('2026-01-15T10:59:59.999Z'), 3600);
    const boundary = fixedWindowAt(at('2026-01-15T11:00:00.000Z'), 3600);
    expect(boundary.index).toBe(before.index + 1);
    expect(before.resetAt).toBe(at('2026-01-15T11:00:00Z') / 1000);
    expect(boundary.resetAt).toBe(at('2026-01-15T12:00:00Z') / 1000);
  });

  it('gives every replica the same window for the same instant, whatever the window length', () => {
    for (const windowSeconds of [1, 60, 900, 3600, 86400]) {
      const now = at('2026-03-01T00:00:00.000Z') + 123_456;
      const a = fixedWindowAt(now, windowSeconds);
      const b = fixedWindowAt(now + 1, windowSeconds);
      expect(b.index).toBe(a.index);
      expect(a.resetAt * 1000).toBeGreaterThan(now);
      expect(a.resetAt * 1000 - now).toBeLessThanOrEqual(windowSeconds * 1000);
    }
  });

  it('refuses a window that is not a positive whole number of seconds', () => {
    expect(() => fixedWindowAt(0, 0)).toThrow(RangeError);
    expect(() => fixedWindowAt(0, 1.5)).toThrow(RangeError);
  });
});

describe('secondsUntil', () => {
  it('rounds up to whole seconds', () => {
    expect(secondsUntil(100, 98_500)).toBe(2);
    expect(secondsUntil(100, 97_000)).toBe(3);
  });

  it('is at least 1, so a Retry-After never says "now"', () => {
    expect(secondsUntil(100, 100_000)).toBe(1);
    expect(secondsUntil(100, 105_000)).toBe(1);
  });
});
