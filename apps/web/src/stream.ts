// One `/api/stream` per browser (DASHBOARD.md §4): the tab holding the Web Lock owns the EventSource and relays
// every message over a BroadcastChannel; the other tabs listen. When the owner closes, the next tab takes the lock.

/** A notification of `/api/stream`: `{message, type}`, or the session's end `{type: "redirect", url}`. */
export interface StreamMessage {
  type: string;
  message?: string;
  url?: string;
  id?: string;
}

const CHANNEL = 'nso-stream';
const LOCK = 'nso-stream-owner';

/**
 * Delivers every stream message to `onMessage` in this tab until the returned function is called. Falls back to
 * one EventSource per tab where Web Locks are missing (a page not served from a secure context or localhost).
 */
export function subscribeToStream(onMessage: (message: StreamMessage) => void): () => void {
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : null;
  const controller = new AbortController();
  let source: EventSource | null = null;
  let closed = false;

  const open = () => {
    source = new EventSource('/api/stream', { withCredentials: true });
    source.onmessage = (ev: MessageEvent<string>) => {
      let message: StreamMessage;
      try {
        message = { ...(JSON.parse(ev.data) as StreamMessage), id: ev.lastEventId || undefined };
      } catch {
        return;
      }
      onMessage(message);
      channel?.postMessage(message);
    };
  };

  if (channel) channel.onmessage = (ev: MessageEvent<StreamMessage>) => onMessage(ev.data);

  if (typeof navigator !== 'undefined' && navigator.locks && channel) {
    navigator.locks
      .request(LOCK, { signal: controller.signal }, () => {
        if (closed) return;
        open();
        // Held until this tab unsubscribes (or closes, which releases it for the next tab).
        return new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve()));
      })
      .catch(() => undefined);
  } else {
    open();
  }

  return () => {
    closed = true;
    controller.abort();
    source?.close();
    channel?.close();
  };
}
