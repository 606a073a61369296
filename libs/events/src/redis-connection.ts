// Turns REDIS_URL into connection options that both ioredis and BullMQ accept, so every client connects alike.

export interface RedisConnectionOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls?: Record<string, never>;
  maxRetriesPerRequest: number | null;
  /** Milliseconds before reconnect attempt `times` (1-based). */
  retryStrategy: (times: number) => number;
}

/**
 * Reconnect after 0.2 s, 0.4 s, … at most 1 s apart, on every connection alike. BullMQ's own default backs off to
 * 20 s, so its connections would come back up to 20 s after Redis did, and queued batches would wait that long.
 */
export function reconnectDelayMs(times: number): number {
  return Math.min(200 * times, 1_000);
}

export function redisOptionsFromUrl(url: string): RedisConnectionOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: db ? Number(db) : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    // BullMQ workers need blocking commands to wait forever; it sets this itself for its own connections.
    maxRetriesPerRequest: null,
    retryStrategy: reconnectDelayMs,
  };
}
