// The SSE id of `/api/stream`: one stream merges up to three topics, each with its own seq, so the id carries the
// position in each — `b12-u3-a7` (broadcast 12, the user's topic 3, admins 7). An EventSource sends the last one
// back as Last-Event-ID, and each topic resumes after its own seq.
import { BadRequestException } from '@nestjs/common';

/** Seq reached per topic kind: b broadcast, u the user's own topic, a admins. */
export interface StreamPosition {
  b?: number;
  u?: number;
  a?: number;
}

const POSITION = /^[bua]\d{1,15}(-[bua]\d{1,15}){0,2}$/;

/** What /api/stream answers (400) to a Last-Event-ID that is not one of its ids. */
export const MALFORMED_STREAM_POSITION = 'Last-Event-ID must be an id of this stream, such as b12-u3';

/**
 * Parses a Last-Event-ID: {} (start live, replay nothing) when absent or empty; a malformed one is a 400
 * `{"error": MALFORMED_STREAM_POSITION}`, as GET /api/scans/{id}/events answers a malformed one. An EventSource
 * sends back only ids this stream wrote, and does not reconnect after a 400, so the refusal cannot loop; a
 * hand-made client learns its id is wrong instead of silently missing what it meant to resume.
 */
export function parseStreamPosition(value: string | undefined): StreamPosition {
  if (!value) return {};
  if (!POSITION.test(value)) throw new BadRequestException({ error: MALFORMED_STREAM_POSITION });
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
