import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { ScanEventHub } from '@nso/events';
import { Metrics } from '@nso/monitoring';
import type { ServerResponse } from 'node:http';
import { serverSentEvents } from './scan-event-wire';

/** The comment a quiet SSE stream gets every SSE_KEEPALIVE_SECONDS; EventSource ignores comment lines. */
export const SSE_KEEPALIVE = ': keep-alive\n\n';

/**
 * Past this many bytes written but not yet taken by the client, an SSE subscriber is dropped rather than buffered
 * without bound; its EventSource reconnects with Last-Event-ID and resumes from the log. The WebSocket's bound.
 */
export const SSE_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

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
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly hub: ScanEventHub,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  /** Ends every stream, so the HTTP server can close; EventSource clients reconnect elsewhere. */
  beforeApplicationShutdown(): void {
    for (const response of this.open) response.end();
  }

  /**
   * Streams the events of `scanId` with seq > `afterSeq` until the client leaves or the gateway stops: each as
   * `event: <name>`, `id: <seq>`, `data: <event JSON>`; a `: keep-alive` comment whenever the stream has been quiet
   * for SSE_KEEPALIVE_SECONDS (a long batch prints nothing). Resolves once the stream is open (headers sent and
   * the replay written). Rejects, with nothing sent, when the event log cannot be read: the exception filter
   * answers then.
   */
  async serve(scanId: number, afterSeq: number, response: ServerResponse): Promise<void> {
    const delivered = this.metrics.scanEventsDelivered.labels({ transport: 'sse' });
    let ended = false;
    let close: (() => void) | undefined;
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
    };
    this.open.add(response);
    this.metrics.subscribers.inc({ transport: 'sse' });
    response.once('close', end);
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
          if (ended) return;
          if (response.writableLength > SSE_MAX_BUFFERED_BYTES) {
            this.metrics.subscribersDropped.inc({ transport: 'sse' });
            response.destroy();
            return;
          }
          response.write(serverSentEvents(events));
          keepAlive?.refresh();
          delivered.inc(events.length);
        },
      );
      if (ended) subscription.close();
      else close = () => subscription.close();
    } catch (error) {
      end();
      throw error;
    }
  }
}
