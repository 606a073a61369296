// One HTTP POST of a webhook body to an address already checked against WEBHOOK_ALLOW: the connection goes to
// that address (the name is not resolved again), with the URL's host in Host and TLS SNI, a timeout, and no
// redirects (a 3xx is an answer like any other non-2xx).
import { Injectable } from '@nestjs/common';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';

/** The receiver's status, or why there was none. */
export type PostOutcome = { status: number } | { error: string };

/** How much of a receiver's answer is read (and thrown away) at most: a receiver cannot make us buffer more. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * POSTs `body` to `url`, connecting to `address` (family 4 or 6) whatever the URL's host resolves to now.
 * Resolves with the status code or an error text; never rejects.
 */
export function postPinned(
  url: URL,
  address: string,
  family: 4 | 6,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<PostOutcome> {
  // The pinned lookup: Node asks it (possibly with `all`) instead of the resolver.
  const lookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as unknown as LookupFunction;
  const options: RequestOptions = {
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port || undefined,
    path: `${url.pathname}${url.search}`,
    headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
    lookup,
    timeout: timeoutMs,
  };
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: PostOutcome) => {
      if (!settled) {
        settled = true;
        clearTimeout(deadline);
        resolve(outcome);
      }
    };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(options, (res) => {
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_ANSWER_BYTES) res.destroy();
      });
      res.on('close', () => done({ status: res.statusCode ?? 0 }));
      res.on('error', () => done({ status: res.statusCode ?? 0 }));
    });
    // The socket timeout is per inactivity; this bounds the whole exchange.
    const deadline = setTimeout(() => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => done({ error: error.message }));
    req.end(body);
  });
}

/** postPinned behind an injectable, so that a unit test of the deliveries replaces the network. */
@Injectable()
export class WebhookPost {
  /** See postPinned: the receiver's status or why there was none; never rejects. */
  send(
    url: URL,
    address: string,
    family: 4 | 6,
    headers: Record<string, string>,
    body: string,
    timeoutMs: number,
  ): Promise<PostOutcome> {
    return postPinned(url, address, family, headers, body, timeoutMs);
  }
}
