import { canonicalCidr, canonicalIpAddress, parseIPv4 } from './ip-address';

// The one spelling of an address (issue 17): what the import, the workers, the history routes and the webhook
// filters store and compare.
describe('canonicalIpAddress', () => {
  it.each([
    ['127.0.0.5', '127.0.0.5'],
    ['::ffff:127.0.0.5', '127.0.0.5'],
    ['::FFFF:127.0.0.7', '127.0.0.7'],
    ['0:0:0:0:0:ffff:7f00:5', '127.0.0.5'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::1', '::1'],
    ['FE80:0000:0:0:0:0:0:1', 'fe80::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
  ])('writes %s as %s', (text, canonical) => {
    expect(canonicalIpAddress(text)).toBe(canonical);
  });

  it.each([
    'fe80::1%eth0',
    '127.1',
    '127.000.0.1',
    '0x7f000001',
    'localhost',
    '[::1]',
    '',
    '::ffff:127.0.0.256',
  ])('refuses %j', (text) => {
    expect(canonicalIpAddress(text)).toBeUndefined();
  });
});

describe('canonicalCidr', () => {
  it.each([
    ['127.0.0.0/8', '127.0.0.0/8'],
    ['127.0.0.9', '127.0.0.9'],
    ['::ffff:127.0.0.9', '127.0.0.9'],
    ['::ffff:127.0.0.0/104', '127.0.0.0/8'],
    ['0:0:0:0:0:0:0:1/128', '::1/128'],
    ['FE80::/10', 'fe80::/10'],
  ])('writes %s as %s', (text, canonical) => {
    expect(canonicalCidr(text)).toBe(canonical);
  });

  it.each([
    ['127.0.0.1/8', /has host bits set \(did you mean 127\.0\.0\.0\/8\?\)/],
    ['127.0.0.0/33', /prefix length outside 0-32/],
    ['fe80::1%lo', /is not an IPv4 or IPv6 address/],
    ['localhost/8', /is not an IPv4 or IPv6 address/],
  ])('refuses %s, saying why', (text, problem) => {
    const result = canonicalCidr(text);
    expect(typeof result === 'string' ? result : result.problem).toMatch(problem);
  });
});

// parseIPv4 reads the text character by character (every host of a scan's XML passes through it); the rule it
// keeps is the regular expression it replaced: four octets of /^(0|[1-9]\d{0,2})$/, each at most 255.
describe('parseIPv4', () => {
  const byRule = (text: string): number | undefined => {
    const parts = text.split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255))
      return undefined;
    return parts.reduce((value, p) => value * 256 + Number(p), 0);
  };

  it.each([
    ['127.0.0.1', 0x7f000001],
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['10.20.30.40', 0x0a141e28],
  ])('reads %s', (text, value) => {
    expect(parseIPv4(text)).toBe(value);
  });

  it.each([
    '',
    '127.0.0',
    '127.0.0.1.',
    '.127.0.0.1',
    '127..0.1',
    '127.0.0.256',
    '127.0.0.01',
    '127.000.0.1',
    '1270.0.0.1',
    '127.0.0.1 ',
    ' 127.0.0.1',
    '127.0.0.+1',
    '127.0.0.-1',
    '127.0.0.1a',
    '127.0.0.٣',
    '127.0.0.1.5',
    '::1',
    '0x7f.0.0.1',
    '1e2.0.0.1',
  ])('refuses %j', (text) => {
    expect(parseIPv4(text)).toBeUndefined();
  });

  it('agrees with the rule on every text of up to 7 characters from digits and dots, and at the octet limits', () => {
    const alphabet = ['0', '1', '2', '5', '9', '.'];
    const differ: string[] = [];
    let checked = 0;
    const check = (text: string) => {
      if (parseIPv4(text) !== byRule(text)) differ.push(text);
      checked++;
    };
    const walk = (prefix: string): void => {
      if (prefix.length > 0) check(prefix);
      if (prefix.length < 7) for (const c of alphabet) walk(prefix + c);
    };
    walk('');
    const octets = [
      '0',
      '9',
      '10',
      '99',
      '100',
      '199',
      '249',
      '250',
      '255',
      '256',
      '300',
      '010',
      '00',
      '2550',
    ];
    for (const a of octets)
      for (const b of octets) for (const text of [`${a}.${b}.${a}.${b}`, `${b}.${b}.${a}.${a}`]) check(text);
    expect(differ).toEqual([]);
    expect(checked).toBeGreaterThan(300_000);
  });
});
