import { BeforeApplicationShutdown, Injectable, MessageEvent } from '@nestjs/common';
import { ScanEventHub } from '@nso/events';
import { Observable, Subscriber } from 'rxjs';

/** A scan's events (what was missed, then live) as an Observable for SSE. */
@Injectable()
export class ScanEventsService implements BeforeApplicationShutdown {
  private readonly open = new Set<Subscriber<MessageEvent>>();

  constructor(private readonly hub: ScanEventHub) {}

  /** Ends every SSE response, so the HTTP server can close; EventSource clients reconnect elsewhere. */
  beforeApplicationShutdown(): void {
    for (const subscriber of this.open) subscriber.complete();
  }

  stream(scanId: number, afterSeq: number): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      this.open.add(subscriber);
      let closed = false;
      let close: (() => void) | undefined;
      this.hub
        .subscribe(scanId, { afterSeq }, (event) =>
          subscriber.next({ id: String(event.seq), type: event.event, data: event }),
        )
        .then((subscription) => {
          if (closed) subscription.close();
          else close = () => subscription.close();
        })
        .catch((error: unknown) => subscriber.error(error));
      return () => {
        this.open.delete(subscriber);
        closed = true;
        close?.();
      };
    });
  }
}
