// The body of POST /api/scans/{scan_id}/results/import, read as a stream (the body parser skips that route): the
// nmap XML file arrives as text pieces that the parser reads as they come, so the gateway never holds the file.
// Refusals are the body parser's, in the API's error shape (common/json-body.ts bodyErrorAnswer): 415 for another
// Content-Type, Content-Encoding or charset, 413 past the limit (naming it, in `limit`), 400 for a body cut short.
import { HttpException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { Request } from 'express';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { bodyDecompressor } from '../common/content-encoding';

export const XML_TYPES = ['application/xml', 'text/xml'];
/** Charsets read (nmap writes UTF-8; ASCII is a subset of it). */
const CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);

/** The 413 names the limit as the agent-results one does (clients/agent-body.reader.ts): text and `limit`. */
const tooLarge = (limit: number) =>
  new HttpException(
    { error: `Request body too large (at most ${limit} bytes after decompression)`, limit },
    413,
  );
const cutShort = () =>
  new HttpException({ error: 'Request body ended early or does not match its Content-Length' }, 400);

/**
 * Checks the request's headers and returns its body as UTF-8 text pieces, read as the consumer asks for them.
 * Throws (at once, before any byte is read) HttpException 415 for a Content-Type other than XML_TYPES, an
 * unknown Content-Encoding (gzip, deflate, br and identity are read) or a charset other than UTF-8, and 413 when
 * the declared Content-Length is over `limit` (the 413's body names it: `{"error", "limit"}`). The pieces then throw 413 once more than `limit` bytes (after
 * decompression) have come, and 400 for a body cut short or not what its Content-Encoding says. When the pieces
 * stop early (a refusal here, or the consumer stops), the rest of the body is read and dropped, as the body
 * parser does, so the client can send it all and read the answer.
 */
export function xmlBodyPieces(req: Request, limit: number): AsyncIterable<string> {
  if (!req.is(XML_TYPES)) {
    throw new UnsupportedMediaTypeException({ error: 'Send the nmap XML as application/xml or text/xml' });
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(String(req.headers['content-type']))?.[1];
  if (charset !== undefined && !CHARSETS.has(charset.toLowerCase())) {
    throw new HttpException({ error: 'Unsupported charset (use utf-8)' }, 415);
  }
  const encoding = String(req.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  let source: Readable = req;
  if (encoding !== 'identity') {
    const inflate = bodyDecompressor(encoding);
    if (!inflate) {
      throw new HttpException({ error: 'Unsupported Content-Encoding (use gzip, deflate, br or none)' }, 415);
    }
    req.once('error', (error) => inflate.destroy(error));
    source = req.pipe(inflate);
  } else {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  }
  return pieces(req, source, encoding !== 'identity', limit);
}

async function* pieces(
  req: Request,
  source: Readable,
  encoded: boolean,
  limit: number,
): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let bytes = 0;
  let aborted = false;
  let done = false;
  const onAborted = () => (aborted = true);
  req.once('aborted', onAborted);
  try {
    // destroyOnReturn false: a refusal answers before the body is read to its end, on a connection still open.
    for await (const chunk of source.iterator({ destroyOnReturn: false })) {
      const buffer = chunk as Buffer;
      bytes += buffer.length;
      if (bytes > limit) throw tooLarge(limit);
      const text = decoder.write(buffer);
      if (text !== '') yield text;
    }
    done = true;
  } catch (error) {
    if (error instanceof HttpException) throw error;
    if (encoded && !aborted) {
      throw new HttpException({ error: 'Request body does not match its Content-Encoding' }, 400);
    }
    throw cutShort();
  } finally {
    req.off('aborted', onAborted);
    // Refused or stopped early (by this reader or its consumer): the rest of the body is read and dropped, as
    // the body parser does, so the client can send it all and read the answer.
    if (!done) {
      req.unpipe();
      req.resume();
    }
  }
  if (aborted || (!encoded && !req.complete)) throw cutShort();
  const declared = Number(req.headers['content-length']);
  if (!encoded && Number.isFinite(declared) && declared !== bytes) throw cutShort();
  const rest = decoder.end();
  if (rest !== '') yield rest;
}
