// A scan event's JSON text, made once per event and process: the hub hands every local subscriber the same event
// object, so 300 subscribers of one scan cost one JSON.stringify, not 300 (bench fanout, docs/performance.md).
import type { ScanEvent } from '@nso/contracts';

const texts = new WeakMap<ScanEvent, string>();

/** `JSON.stringify(event)`, cached for as long as the event object lives. The event must not be mutated. */
export function scanEventJson(event: ScanEvent): string {
  let text = texts.get(event);
  if (text === undefined) {
    text = JSON.stringify(event);
    texts.set(event, text);
  }
  return text;
}
