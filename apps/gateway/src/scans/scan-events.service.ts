import { Injectable, MessageEvent } from '@nestjs/common';
import { ScanEventHub } from '@nso/events';
import { Observable } from 'rxjs';

/** A scan's events (what was missed, then live) as an Observable for SSE. */
@Injectable()
export class ScanEventsService {
  constructor(private readonly hub: ScanEventHub) {}

  stream(scanId: number, afterSeq: number): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
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
        closed = true;
        close?.();
      };
    });
  }
}
