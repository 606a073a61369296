import { BeforeApplicationShutdown, Inject, Injectable, MessageEvent } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { Metrics, ScanEventHub, scanEventJson } from '@nso/events';
import { Observable, Subscriber } from 'rxjs';

/** The comment a quiet SSE stream gets every SSE_KEEPALIVE_SECONDS; EventSource ignores comment lines. */
export const SSE_KEEPALIVE: MessageEvent = { comment: 'keep-alive' } as MessageEvent;

/** A scan's events (what was missed, then live) as an Observable for SSE. */
@Injectable()
export class ScanEventsService implements BeforeApplicationShutdown {
  private readonly open = new Set<Subscriber<MessageEvent>>();

  constructor(
    private readonly hub: ScanEventHub,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  /** Ends every SSE response, so the HTTP server can close; EventSource clients reconnect elsewhere. */
  beforeApplicationShutdown(): void {
    for (const subscriber of this.open) subscriber.complete();
  }

  /**
   * Events of `scanId` with seq > `afterSeq`, each as `{id: seq, type: event name, data: event}`; between them,
   * a comment whenever the stream has been quiet for SSE_KEEPALIVE_SECONDS (a long batch prints nothing).
   */
  stream(scanId: number, afterSeq: number): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      this.open.add(subscriber);
      this.metrics.subscribers.inc({ transport: 'sse' });
      let closed = false;
      let close: (() => void) | undefined;
      // One timer, pushed back by every event (refresh() is cheap): it fires only on a quiet stream.
      const keepAlive: NodeJS.Timeout = setTimeout(() => {
        subscriber.next(SSE_KEEPALIVE);
        keepAlive.refresh();
      }, this.config.sseKeepAliveMs);
      this.hub
        .subscribe(scanId, { afterSeq }, (event) => {
          keepAlive.refresh();
          // Already JSON text (Nest sends a string as is): one serialisation per event, not per subscriber.
          subscriber.next({ id: String(event.seq), type: event.event, data: scanEventJson(event) });
          this.metrics.scanEventsDelivered.inc({ transport: 'sse' });
        })
        .then((subscription) => {
          if (closed) subscription.close();
          else close = () => subscription.close();
        })
        .catch((error: unknown) => subscriber.error(error));
      return () => {
        this.open.delete(subscriber);
        this.metrics.subscribers.dec({ transport: 'sse' });
        closed = true;
        clearTimeout(keepAlive);
        close?.();
      };
    });
  }
}
