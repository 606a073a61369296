import { canonicalCidr, canonicalIpAddress } from './ip-address';

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
