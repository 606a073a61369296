// Fixed-window arithmetic: which window an instant falls in and when that window ends. Windows are aligned to
// the Unix epoch, so every gateway replica computes the same window (and the same Redis key) for an instant.

export interface FixedWindow {
  /** floor(now / window): part of the Redis key, so a new window starts a new counter. */
  index: number;
  /** Unix seconds at which this window ends and the count starts again (X-RateLimit-Reset). */
  resetAt: number;
  /** How long the window's counter must live: to the window's end, plus grace for replicas whose clocks lag. */
  ttlSeconds: number;
}

/** A replica whose clock is behind may still count into a window for this long after it ended elsewhere. */
export const CLOCK_SKEW_GRACE_SECONDS = 60;

export function fixedWindowAt(nowMs: number, windowSeconds: number): FixedWindow {
  if (!Number.isSafeInteger(windowSeconds) || windowSeconds < 1) {
    throw new RangeError(`window must be a positive whole number of seconds, not ${windowSeconds}`);
  }
  const index = Math.floor(nowMs / (windowSeconds * 1000));
  const resetAt = (index + 1) * windowSeconds;
  return { index, resetAt, ttlSeconds: secondsUntil(resetAt, nowMs) + CLOCK_SKEW_GRACE_SECONDS };
}

/** Whole seconds from now until a Unix time, rounded up and at least 1: the value of a Retry-After header. */
export function secondsUntil(unixSeconds: number, nowMs: number): number {
  return Math.max(1, Math.ceil(unixSeconds - nowMs / 1000));
}
