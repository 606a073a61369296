import { BadRequestException } from '@nestjs/common';
import { ClientIdPipe, isClientId, sourceAddress } from './client-id.pipe';
import { parseScanRange } from './clients.dto';

describe('client ids', () => {
  it.each(['aa:bb:cc:dd:ee:ff', 'AA-BB-CC-DD-EE-FF', 'scanner-01.branch', 'local', 'x'.repeat(128)])(
    'accepts %s',
    (id) => {
      expect(isClientId(id)).toBe(true);
      expect(new ClientIdPipe().transform(id)).toBe(id);
    },
  );

  it.each(['', '-x', '.x', 'a b', 'a/b', 'a;b', 'x'.repeat(129), 'ä', 'a\u0000'])(
    'refuses %j with a 400',
    (id) => {
      expect(isClientId(id)).toBe(false);
      expect(() => new ClientIdPipe().transform(id)).toThrow(BadRequestException);
    },
  );
});

describe('sourceAddress', () => {
  it.each([
    ['127.0.0.2', '127.0.0.2'],
    ['::ffff:127.0.0.2', '127.0.0.2'],
    ['::FFFF:127.0.0.2', '127.0.0.2'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::1', '::1'],
  ])('%s is %s', (ip, expected) => {
    expect(sourceAddress(ip)).toBe(expected);
  });
});

describe('parseScanRange', () => {
  it('normalises comma-separated CIDRs and single addresses', () => {
    expect(parseScanRange('127.0.0.0/24, 127.0.5.7 ,::1')).toEqual([
      '127.0.0.0/24',
      '127.0.5.7/32',
      '::1/128',
    ]);
  });

  it.each([
    ['', /at least one/],
    [' , ', /at least one/],
    ['127.0.5.0/28,', /empty entry \(entry 2/],
    [',127.0.5.0/28', /empty entry \(entry 1/],
    ['127.0.5.0/28,,127.0.6.0/28', /empty entry/],
    ['127.0.0.1/24', /host bits/],
    ['127.0.0.0/33', /prefix/],
    ['scanner.example', /not an IPv4 or IPv6/],
    [Array.from({ length: 65 }, (_, i) => `127.0.${i}.0/24`).join(','), /more than 64/],
  ])('refuses %j', (text, why) => {
    expect(() => parseScanRange(text)).toThrow(why);
  });
});
