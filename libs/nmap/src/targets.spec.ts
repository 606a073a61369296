import { TargetError } from './errors';
import { indexSpec, parseTarget, parseTargets, TargetSpec } from './targets';

/** Every target the specs stand for, in order, through each spec's random access. */
const all = (specs: TargetSpec[]): string[] =>
  specs.flatMap((spec) => {
    const index = indexSpec(spec);
    return Array.from({ length: index.count }, (_, i) => index.textAt(i));
  });
const expand = (...texts: string[]): string[] => all(parseTargets(texts));

describe('parseTarget', () => {
  it.each<[string, Partial<TargetSpec>]>([
    ['127.0.0.1', { kind: 'ipv4-range', octets: [[127], [0], [0], [1]] }],
    ['127.0.0.1-3', { kind: 'ipv4-range', octets: [[127], [0], [0], [1, 2, 3]] }],
    ['127.0.0.5,1,3', { kind: 'ipv4-range', octets: [[127], [0], [0], [1, 3, 5]] }],
    ['127.0.0.1,1-2', { kind: 'ipv4-range', octets: [[127], [0], [0], [1, 2]] }],
    ['127.0.0.0/8', { kind: 'ipv4-cidr', network: '127.0.0.0', prefix: 8 }],
    ['127.0.0.5/24', { kind: 'ipv4-cidr', network: '127.0.0.0', prefix: 24 }],
    ['127.0.0.1/32', { kind: 'ipv4-cidr', network: '127.0.0.1', prefix: 32 }],
    ['0.0.0.0/0', { kind: 'ipv4-cidr', network: '0.0.0.0', prefix: 0 }],
    ['::1', { kind: 'ipv6-cidr', network: '::1', prefix: 128 }],
    ['0:0:0:0:0:0:0:1', { kind: 'ipv6-cidr', network: '::1', prefix: 128 }],
    ['2001:DB8::1', { kind: 'ipv6-cidr', network: '2001:db8::1', prefix: 128 }],
    ['2001:db8::ff/120', { kind: 'ipv6-cidr', network: '2001:db8::', prefix: 120 }],
    ['2001:db8::/112', { kind: 'ipv6-cidr', network: '2001:db8::', prefix: 112 }],
    ['64:ff9b::192.0.2.1', { kind: 'ipv6-cidr', network: '64:ff9b::c000:201', prefix: 128 }],
    ['localhost', { kind: 'hostname', name: 'localhost' }],
    ['localhost.', { kind: 'hostname', name: 'localhost' }],
    ['ip6-localhost', { kind: 'hostname', name: 'ip6-localhost' }],
    ['host-1.example.test', { kind: 'hostname', name: 'host-1.example.test' }],
  ])('%s', (text, expected) => {
    expect(parseTarget(text)).toEqual({ text, ...expected });
  });

  it.each<[string, RegExp]>([
    ['', /is empty/],
    ['-oX', /starts with "-"/],
    ['-iL', /starts with "-"/],
    ['--script=vuln', /starts with "-"/],
    ['a b', /whitespace/],
    ['127.0.0.1\n', /whitespace/],
    ['x;rm', /not allowed: ";"/],
    ['$(id)', /not allowed: "\$"/],
    ['`id`', /not allowed: "`"/],
    ['a|b', /not allowed/],
    ['a&b', /not allowed/],
    ['a>b', /not allowed/],
    ["a'b", /not allowed/],
    ['a"b', /not allowed/],
    ['a\\b', /not allowed/],
    ['fe80::1%eth0', /not allowed: "%"/],
    ['host_name', /not allowed: "_"/],
    ['127.0.0.256', /not a valid IPv4 address or octet range/],
    ['127.0.0.01', /not a valid IPv4 address or octet range/],
    ['127.0.0.5-1', /not a valid IPv4 address or octet range/],
    ['127.0.0', /not a valid IPv4 address or octet range/],
    ['127.1', /not a valid IPv4 address or octet range/],
    ['2130706433', /not a valid IPv4 address or octet range/],
    ['127.0.0.1.2', /not a valid IPv4 address or octet range/],
    ['127.0.0.0/33', /prefix length outside 0-32/],
    ['127.0.0.1-5/24', /not a valid IPv4 block/],
    ['127.0.0.0/8/8', /not a valid IPv4 block/],
    ['2001:db8::/64', /too large to enumerate \(the limit is \/112/],
    ['::/0', /too large to enumerate/],
    ['2001:db8::/129', /prefix length outside 0-128/],
    ['2001:db8:::1', /not a valid IPv6/],
    ['::ffff:127.0.0.1', /IPv4-mapped/],
    ['localhost/24', /not a valid IPv4 block/],
    ['-localhost', /starts with "-"/],
    ['bad-.example', /not a valid host name/],
    ['a..b', /not a valid host name/],
    [`${'a'.repeat(64)}.test`, /not a valid host name/],
    ['0x7f.1', /looks like a malformed IPv4 address/],
    // inet_aton forms that used to pass as host names (issue 8, B.6): resolvers read them as 127.0.0.1.
    ['0x7f000001', /IPv4 address in hex, octal or short form/],
    ['0x7f000001.', /IPv4 address in hex, octal or short form/],
    ['0X7F.0.0.0x1', /IPv4 address in hex, octal or short form/],
    ['0x7f.0x0.0x0.0x1', /IPv4 address in hex, octal or short form/],
    ['0x', /IPv4 address in hex, octal or short form/],
    ['x'.repeat(600), /longer than 512/],
  ])('refuses %j', (text, reason) => {
    expect(() => parseTarget(text)).toThrow(TargetError);
    expect(() => parseTarget(text)).toThrow(reason);
  });
});

describe('parseTargets', () => {
  it('lists every bad target, not just the first', () => {
    let error: TargetError | undefined;
    try {
      parseTargets(['127.0.0.1', '-oX', 'a b', 'localhost', 'x;rm']);
    } catch (err) {
      error = err as TargetError;
    }
    expect(error).toBeInstanceOf(TargetError);
    expect(error?.targets).toEqual(['-oX', 'a b', 'x;rm']);
    expect(error?.message).toContain('"-oX"');
    expect(error?.message).toContain('"x;rm"');
  });

  it('requires at least one target', () => {
    expect(() => parseTargets([])).toThrow(TargetError);
  });

  it('refuses non-string items', () => {
    expect(() => parseTargets([7 as unknown as string])).toThrow(/must be a string/);
  });

  it('reads a plain address as the one-value octet range it is, and leading zeros still as octet syntax errors', () => {
    expect(parseTargets(['127.1.200.0', '0.0.0.0', '255.255.255.255'])).toEqual([
      { kind: 'ipv4-range', text: '127.1.200.0', octets: [[127], [1], [200], [0]] },
      { kind: 'ipv4-range', text: '0.0.0.0', octets: [[0], [0], [0], [0]] },
      { kind: 'ipv4-range', text: '255.255.255.255', octets: [[255], [255], [255], [255]] },
    ]);
    expect(() => parseTargets(['127.0.0.01'])).toThrow(/not a valid IPv4 address or octet range/);
    expect(() => parseTargets(['127.0.0.256'])).toThrow(/not a valid IPv4 address or octet range/);
  });
});

describe('indexSpec', () => {
  it('expands single addresses, ranges, comma octets and CIDRs in ascending order', () => {
    expect(expand('127.0.0.1')).toEqual(['127.0.0.1']);
    expect(expand('127.0.0.3-5')).toEqual(['127.0.0.3', '127.0.0.4', '127.0.0.5']);
    expect(expand('127.0.0.5,1,3')).toEqual(['127.0.0.1', '127.0.0.3', '127.0.0.5']);
    expect(expand('127.0.1-2.1')).toEqual(['127.0.1.1', '127.0.2.1']);
    expect(expand('127.0.0-1.7-8')).toEqual(['127.0.0.7', '127.0.0.8', '127.0.1.7', '127.0.1.8']);
    expect(expand('127.0.0.0/30')).toEqual(['127.0.0.0', '127.0.0.1', '127.0.0.2', '127.0.0.3']);
    expect(expand('127.0.0.250-')).toEqual([
      '127.0.0.250',
      '127.0.0.251',
      '127.0.0.252',
      '127.0.0.253',
      '127.0.0.254',
      '127.0.0.255',
    ]);
    expect(expand('127.0.0.-2')).toEqual(['127.0.0.0', '127.0.0.1', '127.0.0.2']);
    expect(expand('127.0.0.*')).toHaveLength(256);
    expect(expand('127.0.0.-')).toHaveLength(256);
  });

  it('expands IPv6 addresses and blocks in canonical form', () => {
    expect(expand('::1')).toEqual(['::1']);
    expect(expand('2001:db8::/126')).toEqual(['2001:db8::', '2001:db8::1', '2001:db8::2', '2001:db8::3']);
    expect(expand('2001:db8:0:0:1:0:0:fffe/127')).toEqual(['2001:db8::1:0:0:fffe', '2001:db8::1:0:0:ffff']);
  });

  it('keeps host names as given and specs in the order given, without deduplicating', () => {
    expect(expand('localhost', '127.0.0.1', '127.0.0.0/31')).toEqual([
      'localhost',
      '127.0.0.1',
      '127.0.0.0',
      '127.0.0.1',
    ]);
  });

  it('reaches any address of a /8 or a /0 directly, in ascending order', () => {
    const slash8 = indexSpec(parseTarget('10.0.0.0/8'));
    expect(slash8.count).toBe(16_777_216);
    expect([0, 1, 16_777_215].map((i) => slash8.textAt(i))).toEqual([
      '10.0.0.0',
      '10.0.0.1',
      '10.255.255.255',
    ]);
    expect(slash8.valueAt(1)! - slash8.valueAt(0)!).toBe(1n);
    expect(indexSpec(parseTarget('0.0.0.0/0')).textAt(99_999)).toBe('0.1.134.159');
    expect(indexSpec(parseTarget('*.*.*.*')).textAt(2 ** 32 - 1)).toBe('255.255.255.255');
  });
});

describe('indexSpec count', () => {
  it.each<[string[], number]>([
    [['127.0.0.1'], 1],
    [['localhost'], 1],
    [['::1'], 1],
    [['127.0.0.0/24'], 256],
    [['10.0.0.0/8'], 16_777_216],
    [['0.0.0.0/0'], 2 ** 32],
    [['127.0.0.1-20'], 20],
    [['127.0.0-1.1,3,5'], 6],
    [['127.*.*.*'], 16_777_216],
    [['2001:db8::/112'], 65_536],
    [['127.0.0.1', '127.0.0.1', 'localhost'], 3],
  ])('%j has %d targets', (texts, count) => {
    expect(parseTargets(texts).reduce((sum, spec) => sum + indexSpec(spec).count, 0)).toBe(count);
  });
});

describe('indexSpec on octet ranges', () => {
  it('does octet-range arithmetic (last octet fastest)', () => {
    expect(expand('127.1-3.0.1,5')).toEqual([
      '127.1.0.1',
      '127.1.0.5',
      '127.2.0.1',
      '127.2.0.5',
      '127.3.0.1',
      '127.3.0.5',
    ]);
  });
});
