import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { ScanEventHub } from '@nso/events';
import { Metrics } from '@nso/monitoring';
import type { ServerResponse } from 'node:http';
import { ConnectionCredential, CredentialWatch } from '../stream/credential-watch';
import { serverSentEvents } from './scan-event-wire';
import { WS_CLOSE } from './scan-events.gateway';

/** The comment a quiet SSE stream gets every SSE_KEEPALIVE_SECONDS; EventSource ignores comment lines. */
export const SSE_KEEPALIVE = ': keep-alive\n\n';

/**
 * What an SSE subscriber that stopped reading gets last, instead of being buffered without bound: once more than
 * SUBSCRIBER_MAX_BUFFERED_KIB is written to it and not taken, no more events are written, this block goes out
 * behind them and the response ends. No `id:` field, so Last-Event-ID stays the last event's; `seq` is that
 * event's seq (what `?since=` resumes after). The same code and reason as the WebSocket's close (4408).
 */
export function sseDroppedBlock(lastSeq: number): string {
  const data = {
    event: 'dropped',
    code: WS_CLOSE.tooSlow.code,
    reason: WS_CLOSE.tooSlow.reason,
    seq: lastSeq,
  };
  return `event: dropped\ndata: ${JSON.stringify(data)}\n\n`;
}

/** How long a dropped SSE subscriber has to read what was written before its connection is cut (ws's close timeout). */
export const SSE_DROP_GRACE_MS = 30_000;

/**
 * Headers of an event stream: never cached or transformed, and not buffered by a proxy (nginx reads
 * X-Accel-Buffering), the same as Nest's `@Sse()` sends.
 */
const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  Connection: 'keep-alive',
  'Cache-Control': 'private, no-cache, no-store, must-revalidate, max-age=0, no-transform',
  Pragma: 'no-cache',
  'X-Accel-Buffering': 'no',
} as const;

/**
 * `GET /api/scans/{id}/events`: a scan's events (what was missed, then live) written to the response as
 * server-sent events. Written here rather than through Nest's `@Sse()` Observable: a batch of events is encoded
 * once for every subscriber of the gateway and goes out in one write (scan-event-wire.ts).
 */
@Injectable()
export class ScanEventsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ScanEventsService.name);
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly hub: ScanEventHub,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
    private readonly credentials: CredentialWatch,
  ) {}

  /** Ends every stream, so the HTTP server can close; EventSource clients reconnect elsewhere. */
  beforeApplicationShutdown(): void {
    for (const response of this.open) response.end();
  }

  /**
   * Streams the events of `scanId` with seq > `afterSeq` until the client leaves or the gateway stops: each as
   * `event: <name>`, `id: <seq>`, `data: <event JSON>`; a `: keep-alive` comment whenever the stream has been quiet
   * for SSE_KEEPALIVE_SECONDS (a long batch prints nothing). The response ends when `credential`, the session or
   * token the stream was opened with, ends (CredentialWatch: logout, revocation, expiry). Resolves once the
   * stream is open (headers sent and the replay written). Rejects, with nothing sent, when the event log cannot
   * be read: the exception filter answers then.
   */
  async serve(
    scanId: number,
    afterSeq: number,
    response: ServerResponse,
    credential: ConnectionCredential = {},
  ): Promise<void> {
    const delivered = this.metrics.scanEventsDelivered.labels({ transport: 'sse' });
    let ended = false;
    let close: (() => void) | undefined;
    let unwatch: (() => void) | undefined;
    // One timer, set once the headers are out and pushed back by every write (refresh() is cheap): it fires only
    // on a quiet stream.
    let keepAlive: NodeJS.Timeout | undefined;
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(keepAlive);
      this.open.delete(response);
      this.metrics.subscribers.dec({ transport: 'sse' });
      close?.();
      unwatch?.();
    };
    this.open.add(response);
    this.metrics.subscribers.inc({ transport: 'sse' });
    response.once('close', end);
    const maxBuffered = this.config.subscriberMaxBufferedBytes;
    let dropped = false;
    let lastSeq = afterSeq;
    // Bounded: no more events, the `dropped` block behind what is queued, and the connection cut after a grace.
    const drop = () => {
      dropped = true;
      close?.();
      this.metrics.subscribersDropped.inc({ transport: 'sse' });
      this.logger.warn(`SSE subscriber of scan ${scanId} dropped: more than ${maxBuffered} bytes unsent`);
      clearTimeout(keepAlive);
      response.end(sseDroppedBlock(lastSeq));
      const cut = setTimeout(() => response.destroy(), SSE_DROP_GRACE_MS).unref();
      response.once('close', () => clearTimeout(cut));
    };
    try {
      const subscription = await this.hub.subscribe(
        scanId,
        {
          afterSeq,
          // Headers only once the log has been read: until then a failure can still be answered with a status.
          onStart: () => {
            if (ended) return;
            response.writeHead(200, SSE_HEADERS);
            response.write('\n');
            const timer: NodeJS.Timeout = setTimeout(() => {
              response.write(SSE_KEEPALIVE);
              timer.refresh();
            }, this.config.sseKeepAliveMs);
            keepAlive = timer;
          },
        },
        (events) => {
          if (ended || dropped) return;
          if (response.writableLength > maxBuffered) return drop();
          response.write(serverSentEvents(events));
          lastSeq = events[events.length - 1].seq;
          keepAlive?.refresh();
          delivered.inc(events.length);
        },
      );
      if (ended || dropped) return subscription.close();
      close = () => subscription.close();
      // The headers are out: a watch that cannot start ends the stream (the client reconnects) rather than throw.
      const stop = await this.credentials
        .watch(credential, () => response.end())
        .catch(() => (response.end(), () => undefined));
      if (ended) stop();
      else unwatch = stop;
    } catch (error) {
      end();
      throw error;
    }
  }
}
