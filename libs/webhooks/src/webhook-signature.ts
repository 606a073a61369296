import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The X-NetScan-Signature value of a delivery: `sha256=` and the lowercase hex HMAC-SHA256 of the raw request
 * body (the exact bytes sent) keyed with the rule's secret (UTF-8), as GitHub's X-Hub-Signature-256.
 */
export function webhookSignature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether `header` is the signature of `body` under `secret`, compared in constant time (for receivers). */
export function verifyWebhookSignature(secret: string, body: string | Buffer, header: string): boolean {
  const expected = Buffer.from(webhookSignature(secret, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
