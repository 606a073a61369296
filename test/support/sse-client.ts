// Reads a Server-Sent Events stream until an event of a given name arrives (or a deadline passes).
export interface SseEvent {
  id?: string;
  event?: string;
  data: unknown;
  /** A comment line (`: text`), which EventSource ignores; keep-alives are comments. */
  comment?: string;
}

export async function readSse(
  url: string,
  headers: Record<string, string>,
  until: string | ((event: SseEvent) => boolean),
  timeoutMs = 15_000,
): Promise<SseEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const events: SseEvent[] = [];
  try {
    const response = await fetch(url, {
      headers: { Accept: 'text/event-stream', ...headers },
      signal: abort.signal,
    });
    if (!response.ok || !response.body) throw new Error(`SSE ${url} answered ${response.status}`);
    for await (const event of sseEvents(response.body)) {
      events.push(event);
      if (typeof until === 'function' ? until(event) : event.event === until) return events;
    }
    throw new Error(`SSE stream ended before ${until}`);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/**
 * The events of an SSE body as they arrive, each block parsed once: `id`, `event`, `data` (JSON) and a comment
 * line (`: text`). Ends with the body.
 */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: SseEvent = { data: undefined };
      for (const line of block.split('\n')) {
        const [field, ...rest] = line.split(':');
        const value = rest.join(':').replace(/^ /, '');
        if (field === 'id') event.id = value;
        if (field === 'event') event.event = value;
        if (field === 'data') event.data = JSON.parse(value);
        if (field === '' && line.startsWith(':')) event.comment = value;
      }
      yield event;
    }
  }
}
