// An agent's results body, read only after the client, its address and its open task were checked (the body
// parser skips that route): streamed with a limit set by what the task can hold, decompressed with a ratio limit,
// so an anonymous caller can make the gateway read, inflate or parse nothing large.
import { HttpException } from '@nestjs/common';
import type { Request } from 'express';
import getRawBody from 'raw-body';
import { Transform, TransformCallback } from 'node:stream';
import { bodyDecompressor } from '../common/content-encoding';
import { MAX_BODY_DEPTH, nestingDepth } from '../common/json-body';

/** Bytes a results body may take for each address of its task (an nmap host with its ports and services). */
export const RESULTS_BYTES_PER_HOST = 64 * 1024;
/** Bytes a results body may take besides its hosts. */
export const RESULTS_BASE_BYTES = 64 * 1024;
/** No results body is larger than this, whatever its task (as the body parser's limit was). */
export const RESULTS_MAX_BYTES = 32 * 1024 * 1024;
/** Decompressed bytes per compressed byte a results body may reach (JSON of nmap results: about 10 to 30). */
export const MAX_COMPRESSION_RATIO = 100;

/** The largest results body a task of `addresses` addresses can need, in bytes. */
export function resultsBodyLimit(addresses: number): number {
  return Math.min(RESULTS_MAX_BYTES, RESULTS_BASE_BYTES + addresses * RESULTS_BYTES_PER_HOST);
}

const tooLarge = (limit: number) =>
  new HttpException(
    { error: `Request body too large (at most ${limit} bytes for this client's tasks)`, limit },
    413,
  );

/** Counts the bytes that pass (the compressed side of a decompressor). */
class ByteCounter extends Transform {
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** Fails once the decompressed bytes outgrow MAX_COMPRESSION_RATIO times the compressed ones seen so far. */
class RatioGuard extends Transform {
  private out = 0;

  constructor(private readonly compressed: ByteCounter) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.out += chunk.length;
    // Small bodies may compress better than any ratio (a run of spaces); only a large output is suspicious.
    if (this.out > RESULTS_BASE_BYTES && this.out > this.compressed.bytes * MAX_COMPRESSION_RATIO) {
      done(
        new HttpException(
          { error: `Request body decompresses more than ${MAX_COMPRESSION_RATIO} times its size` },
          413,
        ),
      );
      return;
    }
    done(null, chunk);
  }
}

/**
 * Reads the request's JSON body with at most `limit` bytes (before and after decompression; gzip, deflate and br
 * with MAX_COMPRESSION_RATIO) and parses it. Errors are HttpExceptions in the API's shape: 413 too large or too
 * compressed, 415 another Content-Encoding or Content-Type, 400 malformed, cut short, or nested deeper than
 * MAX_BODY_DEPTH. The parse and the depth walk are linear in the body.
 */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? '');
  if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
    throw new HttpException({ error: 'Content-Type must be application/json' }, 415);
  }
  const encoding = String(req.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  let text: string;
  try {
    if (encoding === 'identity') {
      text = await getRawBody(req, {
        limit,
        encoding: 'utf8',
        length: req.headers['content-length'],
      });
    } else {
      const inflate = bodyDecompressor(encoding);
      if (!inflate) {
        throw new HttpException(
          { error: 'Unsupported Content-Encoding (use gzip, deflate, br or none)' },
          415,
        );
      }
      const counter = new ByteCounter();
      const guard = new RatioGuard(counter);
      const failed = new Promise<never>((_, reject) => {
        for (const stream of [req, counter, inflate, guard]) stream.once('error', reject);
      });
      req.pipe(counter).pipe(inflate).pipe(guard);
      text = await Promise.race([getRawBody(guard, { limit, encoding: 'utf8' }), failed]);
      if (counter.bytes > limit) throw tooLarge(limit);
    }
  } catch (error) {
    req.unpipe();
    req.resume();
    throw bodyError(error, limit);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpException({ error: 'Malformed JSON body' }, 400);
  }
  if (nestingDepth(body, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
    throw new HttpException(
      { error: `Request body nested too deeply (at most ${MAX_BODY_DEPTH} levels)` },
      400,
    );
  }
  return body;
}

function bodyError(error: unknown, limit: number): HttpException {
  if (error instanceof HttpException) return error;
  const failure = error as { type?: string; code?: string };
  if (failure.type === 'entity.too.large') return tooLarge(limit);
  if (failure.type === 'encoding.unsupported') {
    return new HttpException({ error: 'Unsupported charset (use utf-8)' }, 415);
  }
  if (typeof failure.code === 'string' && /^(Z_|ERR_)/.test(failure.code)) {
    return new HttpException({ error: 'Request body does not match its Content-Encoding' }, 400);
  }
  return new HttpException({ error: 'Request body ended early or does not match its Content-Length' }, 400);
}
