/**
 * `work`'s value, or `fallback` when it rejects or has not settled within `ms` milliseconds: for the checks and
 * collectors that must answer in bounded time whatever they wait on (ioredis and BullMQ commands wait for Redis to
 * come back rather than fail). Never rejects; the timer goes as soon as the race is decided.
 */
export function settledWithin<T>(work: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(resolve, ms, fallback);
  });
  return Promise.race([work.catch(() => fallback), late]).finally(() => clearTimeout(timer));
}
