import { TargetError } from './errors';
import {
  assertSingleFamily,
  chunkTargets,
  countChunks,
  countTargets,
  expandTargets,
  parseTarget,
  parseTargets,
  sliceTargets,
  targetFamily,
  TargetSpec,
} from './targets';

const all = (specs: TargetSpec[]): string[] => [...expandTargets(specs)];
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
});

describe('expandTargets', () => {
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

  it('is lazy: the first targets of a /8 come without building the list', () => {
    const iterator = expandTargets([parseTarget('10.0.0.0/8')]);
    const first = [iterator.next().value, iterator.next().value, iterator.next().value];
    expect(first).toEqual(['10.0.0.0', '10.0.0.1', '10.0.0.2']);
    iterator.return(undefined);
  });

  it('walks a bounded prefix of a /0 quickly', () => {
    const started = Date.now();
    let n = 0;
    let last = '';
    for (const target of expandTargets([parseTarget('0.0.0.0/0')])) {
      last = target;
      if (++n === 100_000) break;
    }
    expect(last).toBe('0.1.134.159');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('countTargets', () => {
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
    expect(countTargets(parseTargets(texts))).toBe(count);
  });
});

describe('sliceTargets', () => {
  const slash8 = [parseTarget('10.0.0.0/8')];

  it('reaches the 16,777,216th address of a /8 directly', () => {
    const started = Date.now();
    expect(sliceTargets(slash8, 16_777_215, 1)).toEqual(['10.255.255.255']);
    expect(sliceTargets(slash8, 16_777_213, 10)).toEqual([
      '10.255.255.253',
      '10.255.255.254',
      '10.255.255.255',
    ]);
    expect(sliceTargets(slash8, 16_777_216, 10)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(50);
  });

  it('builds chunk k of a /8 without touching the chunks before it', () => {
    const chunkSize = 256;
    const k = 65_535;
    const chunk = sliceTargets(slash8, k * chunkSize, chunkSize);
    expect(chunk).toHaveLength(256);
    expect(chunk[0]).toBe('10.255.255.0');
    expect(chunk[255]).toBe('10.255.255.255');
  });

  it('does octet-range arithmetic (last octet fastest)', () => {
    const specs = parseTargets(['127.1-3.0.1,5']);
    expect(all(specs)).toEqual([
      '127.1.0.1',
      '127.1.0.5',
      '127.2.0.1',
      '127.2.0.5',
      '127.3.0.1',
      '127.3.0.5',
    ]);
    expect(sliceTargets(specs, 3, 2)).toEqual(['127.2.0.5', '127.3.0.1']);
    expect(sliceTargets([parseTarget('*.*.*.*')], 2 ** 32 - 1, 5)).toEqual(['255.255.255.255']);
  });

  it('crosses spec boundaries and matches the lazy expansion', () => {
    const specs = parseTargets(['127.0.0.1-3', 'localhost', '::1', '127.0.1.0/30']);
    const expanded = all(specs);
    for (let start = 0; start <= expanded.length; start++) {
      for (let count = 0; count <= 4; count++) {
        expect(sliceTargets(specs, start, count)).toEqual(expanded.slice(start, start + count));
      }
    }
  });

  it('refuses negative or fractional positions', () => {
    expect(() => sliceTargets(slash8, -1, 1)).toThrow(RangeError);
    expect(() => sliceTargets(slash8, 0.5, 1)).toThrow(RangeError);
    expect(() => sliceTargets(slash8, 0, -1)).toThrow(RangeError);
  });
});

describe('chunkTargets / countChunks', () => {
  const specs = parseTargets(['127.0.0.1-10']);

  it('yields chunks of chunkSize with a shorter last one', () => {
    expect([...chunkTargets(specs, 4)]).toEqual([
      ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'],
      ['127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8'],
      ['127.0.0.9', '127.0.0.10'],
    ]);
    expect(countChunks(specs, 4)).toBe(3);
  });

  it('handles an exact multiple', () => {
    const chunks = [...chunkTargets(specs, 5)];
    expect(chunks.map((c) => c.length)).toEqual([5, 5]);
    expect(countChunks(specs, 5)).toBe(2);
  });

  it('gives one chunk when the chunk is larger than the total', () => {
    expect([...chunkTargets(specs, 1000)]).toEqual([all(specs)]);
    expect(countChunks(specs, 1000)).toBe(1);
  });

  it('chunk k equals sliceTargets(k * size, size)', () => {
    const mixed = parseTargets(['127.0.0.1-7', 'localhost', '127.0.1.0/29']);
    [...chunkTargets(mixed, 3)].forEach((chunk, k) => {
      expect(chunk).toEqual(sliceTargets(mixed, k * 3, 3));
    });
    expect(countChunks(mixed, 3)).toBe(Math.ceil(16 / 3));
  });

  it('is lazy on a /8', () => {
    const chunks = chunkTargets([parseTarget('10.0.0.0/8')], 256);
    expect(chunks.next().value).toHaveLength(256);
    expect(chunks.next().value?.[0]).toBe('10.0.1.0');
    expect(countChunks([parseTarget('10.0.0.0/8')], 256)).toBe(65_536);
  });

  it.each([0, -1, 1.5, NaN])('refuses chunk size %p at the call', (size) => {
    expect(() => chunkTargets(specs, size)).toThrow(RangeError);
    expect(() => countChunks(specs, size)).toThrow(RangeError);
  });
});

describe('targetFamily', () => {
  it('tells which family a spec scans', () => {
    expect(parseTargets(['127.0.0.1', '127.0.0.0/8', '::1', 'localhost']).map(targetFamily)).toEqual([
      'ipv4',
      'ipv4',
      'ipv6',
      'hostname',
    ]);
  });
});

describe('assertSingleFamily', () => {
  it('accepts one family, with or without host names', () => {
    expect(() => assertSingleFamily(parseTargets(['127.0.0.1', '127.0.1.0/24', 'localhost']))).not.toThrow();
    expect(() => assertSingleFamily(parseTargets(['::1', 'localhost']))).not.toThrow();
  });

  it('refuses IPv4 and IPv6 in one scan, naming both', () => {
    expect(() => assertSingleFamily(parseTargets(['127.0.0.1', '::1']))).toThrow(
      'targets mix IPv4 (127.0.0.1) and IPv6 (::1); nmap scans one family per run, so send them separately',
    );
  });
});
