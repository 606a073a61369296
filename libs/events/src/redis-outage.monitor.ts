// Every Redis connection of a process reports its errors here, so that an outage is one line when Redis goes away
// and one line when it answers again, instead of one line per connection per reconnect attempt (ioredis prints
// "[ioredis] Unhandled error event" for each error of a client without an 'error' listener, and a BullMQ object
// without one prints every error it forwards).
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { settledWithin } from '@nso/monitoring';
import { safeErrorMessage } from '@nso/persistence';
import type Redis from 'ioredis';

/** What the monitor needs of a BullMQ Queue or Worker: its 'error' events (QueueBase is an EventEmitter). */
export interface ErrorEmitter {
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** How often, while Redis is away, the probe connection is asked whether it answers again. */
const PROBE_INTERVAL_MS = 1_000;
/** A PING not answered within this long counts as Redis not answering. */
const PROBE_TIMEOUT_MS = 1_000;

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * True for errors that say the connection to Redis is gone (refused, reset, closed, commands given up after
 * reconnect attempts), as opposed to an error Redis answered with. BullMQ's own test (isNotConnectionError) knows
 * only ECONNREFUSED and "Connection is closed."; ioredis adds the rest.
 */
export function isRedisConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: string }).code;
  if (code && CONNECTION_ERROR_CODES.has(code)) return true;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|connect ECONNREFUSED|ECONNRESET|Reached the max retries|Socket closed unexpectedly/i.test(
      error.message,
    )
  );
}

/**
 * One per process (RedisModule provides it). Connections register with `watchClient` (ioredis) or `watchEmitter`
 * (BullMQ objects); each gets an 'error' listener at once. The first connection error while Redis is considered
 * up is checked with a PING on the probe connection (the shared command connection): if that fails, the outage
 * is logged once, with the error, and further connection errors are only counted. While Redis is away the probe
 * repeats every second; when it answers and every watched ioredis client is ready again, one line reports the
 * recovery with the outage's length. Errors that are not about the connection are logged as they come.
 */
@Injectable()
export class RedisOutageMonitor implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  private readonly clients = new Map<string, Redis>();
  private probeClient?: Redis;
  private down?: { since: number; errors: number };
  private probing = false;
  private timer?: NodeJS.Timeout;
  private closed = false;

  /** True from the logged start of an outage until its logged recovery. */
  get isDown(): boolean {
    return this.down !== undefined;
  }

  /**
   * Handles a client's errors from now on. `probe`: this client answers the monitor's PINGs (the process's
   * command connection; subscriber connections cannot PING outside subscriber mode's own rules).
   */
  watchClient(name: string, client: Redis, options: { probe?: boolean } = {}): Redis {
    this.clients.set(name, client);
    if (options.probe) this.probeClient = client;
    client.on('error', (error: Error) => this.report(name, error));
    client.on('ready', () => {
      if (this.down) this.check();
    });
    return client;
  }

  /** Handles the 'error' events of a BullMQ Queue or Worker (they carry its connections' errors too). */
  watchEmitter(name: string, emitter: ErrorEmitter): void {
    emitter.on('error', (error: Error) => this.report(name, error));
  }

  /** Forgets a client that its owner closes (a subscriber at shutdown), so it does not hold up a recovery. */
  unwatchClient(name: string): void {
    this.clients.delete(name);
  }

  /**
   * Logs an error of a Redis connection or of a Redis operation: a connection error joins the outage (logged
   * once), anything else is logged as a warning naming its source.
   */
  report(source: string, error: unknown): void {
    if (this.closed) return;
    if (!isRedisConnectionError(error)) {
      this.logger.warn(`${source}: ${safeErrorMessage(error)}`);
      return;
    }
    if (this.down) {
      this.down.errors++;
      return;
    }
    this.pendingError ??= { source, message: (error as Error).message };
    this.pendingErrors++;
    this.check();
  }

  /** The first connection error not yet judged by a probe, and how many came since. */
  private pendingError?: { source: string; message: string };
  private pendingErrors = 0;

  onApplicationShutdown(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** One probe at a time: PING on the probe connection, then log a change of state. */
  private check(): void {
    if (this.probing || this.closed) return;
    this.probing = true;
    void this.answers()
      .then((answers) => {
        this.probing = false;
        if (this.closed) return;
        const ready =
          answers && [...this.clients.values()].every((c) => c.status === 'ready' || c.status === 'end');
        if (!this.down && !answers) {
          const first = this.pendingError;
          this.down = { since: Date.now(), errors: this.pendingErrors };
          this.logger.error(
            `Redis does not answer (${first ? `${first.source}: ${first.message}` : 'no reply'}); reconnecting, ` +
              'and further connection errors are not logged until it answers again',
          );
        } else if (this.down && ready) {
          const seconds = ((Date.now() - this.down.since) / 1000).toFixed(1);
          this.logger.log(
            `Redis answers again after ${seconds} s (${this.down.errors} connection errors while it was away)`,
          );
          this.down = undefined;
        }
        this.pendingError = undefined;
        this.pendingErrors = 0;
        if (this.down) this.schedule();
      })
      .catch(() => {
        this.probing = false;
      });
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  private async answers(): Promise<boolean> {
    const client = this.probeClient;
    if (!client || client.status !== 'ready') return false;
    return settledWithin(
      client.ping().then((reply) => reply === 'PONG'),
      PROBE_TIMEOUT_MS,
      false,
    );
  }
}
