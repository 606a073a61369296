// Path ids (/api/scans/:scanId, /api/tokens/:tokenId, /ws/scans/:scanId): one spelling per id.
import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';

// Digits only, no leading zero: "26" and nothing else names row 26 ("026", "+26", " 26", "26.0", "0x1a", "1e1"
// and "٢٦" do not). Ids start at 1.
const CANONICAL_ID = /^[1-9][0-9]*$/;

/**
 * Reads a path id: a positive integer in canonical decimal, at most Number.MAX_SAFE_INTEGER. Returns
 * undefined for anything else, so REST (400) and the WebSocket (close 4400) refuse the same spellings.
 */
export function parseId(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !CANONICAL_ID.test(raw)) return undefined;
  const id = Number(raw);
  return Number.isSafeInteger(id) ? id : undefined;
}

/**
 * `@Param('scanId', new ParseIdPipe('scan_id'))`: a canonical id (see parseId) or 400
 * `{"error": "<name> must be a positive integer"}`. The global validation pipe leaves path parameters as the
 * strings the URL had (common/validation.ts), so this pipe sees what the client sent.
 */
@Injectable()
export class ParseIdPipe implements PipeTransform<unknown, number> {
  constructor(private readonly name: string) {}

  transform(value: unknown): number {
    const id = parseId(value);
    if (id === undefined) {
      throw new BadRequestException({ error: `${this.name} must be a positive integer` });
    }
    return id;
  }
}
