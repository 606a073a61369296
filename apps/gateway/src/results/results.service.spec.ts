import { BadRequestException } from '@nestjs/common';
import { canonicalAddress } from './results.service';

describe('canonicalAddress', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['FE80:0:0:0:0:0:0:1', 'fe80::1'],
    // IPv4-mapped: the IPv4 address it stands for, as agents, the scope and the rate limiter read it (issue 17).
    ['::ffff:127.0.0.5', '127.0.0.5'],
    ['::FFFF:127.0.0.7', '127.0.0.7'],
    ['0:0:0:0:0:ffff:7f00:5', '127.0.0.5'],
  ])('reads %p as %p', (raw, address) => {
    expect(canonicalAddress(raw)).toBe(address);
  });

  it.each(['fe80::1%eth0', '::1%lo', '127.1', '0x7f000001', 'localhost', '[::1]', ''])(
    'refuses %p with a 400',
    (raw) => {
      expect(() => canonicalAddress(raw)).toThrow(BadRequestException);
    },
  );
});
