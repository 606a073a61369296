// The Content-Encodings the gateway reads on the routes that read their own body (an agent's results, the nmap
// XML import), as the body parser does for the others.
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/**
 * A stream that decodes a body sent with `encoding` (a lower-cased Content-Encoding: gzip or x-gzip, deflate,
 * br), or undefined for an encoding the gateway does not read (the route answers 415). `identity` is no
 * encoding: callers read such a body as it is.
 */
export function bodyDecompressor(encoding: string): Transform | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}
