// The SSE id of `/api/stream`: one stream merges up to three topics, each with its own seq, so the id carries the
// position in each — `b12-u3-a7` (broadcast 12, the user's topic 3, admins 7). An EventSource sends the last one
// back as Last-Event-ID, and each topic resumes after its own seq.

/** Seq reached per topic kind: b broadcast, u the user's own topic, a admins. */
export interface StreamPosition {
  b?: number;
  u?: number;
  a?: number;
}

const POSITION = /^[bua]\d{1,15}(-[bua]\d{1,15}){0,2}$/;

/**
 * Parses a Last-Event-ID. Returns {} (start live, replay nothing) for a missing or malformed value: an
 * EventSource resends whatever id it last saw, so refusing it would make it retry the same refusal forever.
 */
export function parseStreamPosition(value: string | undefined): StreamPosition {
  if (!value || !POSITION.test(value)) return {};
  const position: StreamPosition = {};
  for (const part of value.split('-')) {
    position[part[0] as keyof StreamPosition] = Number(part.slice(1));
  }
  return position;
}

/** The id for an event sent at this position: only the topics the stream follows, in b-u-a order. */
export function formatStreamPosition(position: StreamPosition): string {
  return (['b', 'u', 'a'] as const)
    .filter((kind) => position[kind] !== undefined)
    .map((kind) => `${kind}${position[kind]}`)
    .join('-');
}
