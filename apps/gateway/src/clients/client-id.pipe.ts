// Path client ids are strings (MAC addresses, host names, pool names), not row ids: ParseIdPipe is not for them.
import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { CLIENT_ID_HINT, CLIENT_ID_PATTERN } from '@nso/config';

/** True when `value` is a client id this API accepts (CLIENT_ID_PATTERN). */
export function isClientId(value: unknown): value is string {
  return typeof value === 'string' && CLIENT_ID_PATTERN.test(value);
}

/** `@Param('clientId', ClientIdPipe)`: the id as sent, or 400 `{"error": "client_id must be ..."}`. */
@Injectable()
export class ClientIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (!isClientId(value)) throw new BadRequestException({ error: `client_id must be ${CLIENT_ID_HINT}` });
    return value;
  }
}

/**
 * The address a request came from (Express's req.ip, so TRUST_PROXY applies), as one spelling: an IPv4-mapped
 * IPv6 address becomes the IPv4 address, and an IPv6 zone is dropped.
 */
export function sourceAddress(ip: string | undefined): string {
  const bare = (ip ?? 'unknown').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return mapped ? mapped[1] : bare.toLowerCase();
}
