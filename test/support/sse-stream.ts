// An open Server-Sent Events stream whose events a test reads as they come (readSse reads one to an end).
import { SseEvent, sseEvents } from './sse-client';

export interface OpenSse {
  status: number;
  events: SseEvent[];
  /** Resolves with the first event (already received or still to come) that matches; rejects at the deadline. */
  waitFor(match: (event: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<OpenSse> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { Accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let finished = false;
  const ended = (async () => {
    if (!response.body) return;
    try {
      for await (const event of sseEvents(response.body)) {
        events.push(event);
        for (const check of waiters) check();
      }
    } catch {
      // Aborted by close().
    } finally {
      finished = true;
      for (const check of waiters) check();
    }
  })();
  return {
    status: response.status,
    events,
    ended,
    close: () => abort.abort(),
    waitFor: (match, timeoutMs = 15_000) =>
      new Promise<SseEvent>((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (found) done(() => resolve(found));
          else if (finished) done(() => reject(new Error(`stream ended; events: ${JSON.stringify(events)}`)));
        };
        const timer = setTimeout(
          () =>
            done(() => reject(new Error(`no matching event in ${timeoutMs} ms: ${JSON.stringify(events)}`))),
          timeoutMs,
        );
        const done = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      }),
  };
}

/** Notifications (`data` with a message) a stream received, in order. */
export const notificationsOf = (stream: OpenSse) =>
  stream.events
    .filter((e) => (e.data as { message?: string } | undefined)?.message !== undefined)
    .map((e) => e.data);
