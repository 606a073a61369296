// The request body layer: JSON and form bodies, parsed after the rate limiter has counted the request (so a
// malformed, oversized or undecodable body counts like any other request), with every refusal a 4xx in the
// API's error shape, never Express's HTML page or a 500.
import { Injectable, NestMiddleware } from '@nestjs/common';
import { json, NextFunction, Request, Response, urlencoded } from 'express';

/** The largest JSON body of any route but the agents' results (1 MiB; k8s/ingress.yaml's proxy-body-size is the same). */
export const JSON_BODY_MAX_BYTES = 1024 * 1024;
export const jsonBodyParser = json({ limit: JSON_BODY_MAX_BYTES });
/**
 * An agent's results (`POST /api/clients/{id}/results`) are not parsed here: the route reads its body itself,
 * after it has checked the client, its address and its open task, with a limit set by that task
 * (clients/agent-body.reader.ts).
 */
const AGENT_RESULTS_ROUTE = /^\/api\/clients\/[^/]+\/results\/?$/;
export const formBodyParser = urlencoded({ extended: false, limit: '64kb' });
/**
 * Routes that read their body themselves, whatever its Content-Type: the nmap XML import answers 415 for
 * anything but XML (docs/api.md), which it could not if a JSON body were parsed (and refused) here first.
 */
const OWN_BODY_ROUTES = /^\/api\/scans\/[^/]+\/results\/import$/;

/**
 * Deepest nesting of objects and arrays a body may have. Every request body of the API is at most two deep
 * (an object of arrays of strings); past a few thousand levels the validation pipe's recursive walks overflow
 * the stack, so the limit sits far below that and far above any honest body.
 */
export const MAX_BODY_DEPTH = 32;

/** The nesting depth of a parsed JSON value (a scalar is 0, `{}` and `[]` are 1), without recursion. */
export function nestingDepth(value: unknown, stopAbove = Infinity): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object') continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    if (deepest > stopAbove) return deepest;
    for (const child of Object.values(item)) {
      if (child !== null && typeof child === 'object') pending.push([child, here]);
    }
  }
  return deepest;
}

/**
 * The answer for an error of the body parsers (body-parser's http-errors: `status` and `type`), or undefined
 * for an error that is not theirs. Statuses: 400 malformed JSON, a body that does not decode as its
 * Content-Encoding says (gzip that is not gzip) or is cut short; 413 too large; 415 an unknown
 * Content-Encoding or charset. `encoded`: the request had a Content-Encoding other than identity.
 */
export function bodyErrorAnswer(error: unknown, encoded = false): [number, { error: string }] | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const failure = error as { type?: unknown; status?: unknown; statusCode?: unknown; code?: unknown };
  const status = typeof failure.status === 'number' ? failure.status : failure.statusCode;
  if (typeof status !== 'number') return undefined;
  switch (failure.type) {
    case 'entity.parse.failed':
      return [400, { error: 'Malformed JSON body' }];
    case 'entity.too.large':
      return [413, { error: 'Request body too large' }];
    case 'encoding.unsupported':
      return [415, { error: 'Unsupported Content-Encoding (use gzip, deflate, br or none)' }];
    case 'charset.unsupported':
      return [415, { error: 'Unsupported charset (use utf-8)' }];
    case 'request.aborted':
    case 'request.size.invalid':
      return [400, { error: 'Request body ended early or does not match its Content-Length' }];
  }
  // Decompression errors (zlib's Z_*, brotli's ERR_*) come through body-parser without a type: a body that
  // is not what its Content-Encoding says.
  if (encoded && typeof failure.code === 'string' && /^(Z_|ERR_)/.test(failure.code)) {
    return [400, { error: 'Request body does not match its Content-Encoding' }];
  }
  return status >= 400 && status < 500 ? [status, { error: 'Unreadable request body' }] : undefined;
}

function isEncoded(req: Request): boolean {
  const encoding = req.headers['content-encoding'];
  return encoding !== undefined && encoding.trim().toLowerCase() !== 'identity';
}

/**
 * Parses JSON and form bodies. Applied in AppModule after CurrentUserMiddleware and RateLimitMiddleware, so
 * a request is counted before its body is read (docs/rate-limits.md: every request counts).
 */
@Injectable()
export class BodyParserMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    const fail = (error: unknown): void => {
      const answer = bodyErrorAnswer(error, isEncoded(req)) ?? [400, { error: 'Unreadable request body' }];
      if (!res.headersSent) res.status(answer[0]).json(answer[1]);
    };
    // originalUrl: req.path is relative to where the middleware is mounted.
    const path = (req.originalUrl ?? req.url).split('?')[0];
    if (OWN_BODY_ROUTES.test(path)) return next();
    if (req.method === 'POST' && AGENT_RESULTS_ROUTE.test(path)) return next();
    jsonBodyParser(req, res, (jsonError?: unknown) => {
      if (jsonError) return fail(jsonError);
      formBodyParser(req, res, (formError?: unknown) => {
        if (formError) return fail(formError);
        if (nestingDepth(req.body, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
          res
            .status(400)
            .json({ error: `Request body nested too deeply (at most ${MAX_BODY_DEPTH} levels)` });
          return;
        }
        next();
      });
    });
  }
}
