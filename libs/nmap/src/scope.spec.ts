import { ScopeError } from './errors';
import { assertInScope, DEFAULT_SCAN_SCOPE_ALLOW, HostResolver, ScanScope } from './scope';
import { parseTargets } from './targets';

const defaultScope = (): ScanScope => new ScanScope(ScanScope.parseCidrList(DEFAULT_SCAN_SCOPE_ALLOW), []);

async function outOfScope(scope: ScanScope, targets: string[], resolve?: HostResolver): Promise<string[]> {
  try {
    await scope.checkSpecs(parseTargets(targets), resolve);
    return [];
  } catch (err) {
    if (err instanceof ScopeError) return err.outOfScope;
    throw err;
  }
}

describe('ScanScope.parseCidrList', () => {
  it('parses and normalises a comma-separated list', () => {
    expect(ScanScope.parseCidrList('127.0.0.0/8, ::1/128')).toEqual(['127.0.0.0/8', '::1/128']);
    expect(ScanScope.parseCidrList('::1,127.0.0.1')).toEqual(['::1/128', '127.0.0.1/32']);
    expect(ScanScope.parseCidrList('2001:DB8:0::/32')).toEqual(['2001:db8::/32']);
    expect(ScanScope.parseCidrList('')).toEqual([]);
    expect(ScanScope.parseCidrList(' , ')).toEqual([]);
  });

  it.each<[string, RegExp]>([
    ['127.0.0.0/8,nonsense', /"nonsense".*not an IPv4 or IPv6 address/],
    ['127.0.0.0/33', /"127.0.0.0\/33".*prefix length outside 0-32/],
    ['::1/129', /prefix length outside 0-128/],
    ['10.0.0.1/8', /"10.0.0.1\/8".*host bits set \(did you mean 10.0.0.0\/8\?\)/],
    ['127.0.0.0/8;192.0.2.0/24', /prefix length/],
    ['127.0.0.1-5', /not an IPv4 or IPv6 address/],
    ['127.0.0.0/08', /prefix length/],
  ])('names the bad entry in %j', (csv, message) => {
    expect(() => ScanScope.parseCidrList(csv)).toThrow(message);
  });

  it('refuses bad entries in the constructor too', () => {
    expect(() => new ScanScope(['127.0.0.0/8'], ['bogus'])).toThrow(/"bogus" in deny list/);
  });
});

describe('ScanScope.contains', () => {
  const scope = new ScanScope(
    ['127.0.0.0/8', '::1/128', '2001:db8::/32'],
    ['127.0.0.128/25', '2001:db8:1::/48'],
  );

  it.each<[string, boolean]>([
    ['127.0.0.1', true],
    ['127.255.255.255', true],
    ['127.0.0.127', true],
    ['127.0.0.128', false],
    ['127.0.0.255', false],
    ['128.0.0.0', false],
    ['192.0.2.1', false],
    ['::1', true],
    ['::2', false],
    ['2001:db8::1', true],
    ['2001:db8:1::1', false],
    ['2001:db8:2::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:192.0.2.1', false],
    ['not-an-address', false],
    ['', false],
  ])('%s → %s', (address, expected) => {
    expect(scope.contains(address)).toBe(expected);
  });

  it('contains nothing when the allow list is empty', () => {
    expect(new ScanScope([], []).contains('127.0.0.1')).toBe(false);
  });
});

describe('ScanScope.checkSpecs', () => {
  it('accepts loopback targets in the default scope', async () => {
    await expect(
      defaultScope().checkSpecs(parseTargets(['127.0.0.1', '127.0.0.0/8', '127.0.0-3.*', '::1'])),
    ).resolves.toBeUndefined();
  });

  it('refuses documentation ranges in the default scope', async () => {
    expect(await outOfScope(defaultScope(), ['192.0.2.1', '2001:db8::1', '192.0.2.0/24'])).toEqual([
      '192.0.2.1',
      '2001:db8::1',
      '192.0.2.0/24',
    ]);
  });

  it('lists only the out-of-scope targets of a mixed list', async () => {
    const scope = new ScanScope(['127.0.0.0/8', '::1/128'], ['127.0.0.128/25']);
    expect(
      await outOfScope(scope, [
        '127.0.0.1',
        '127.0.0.200',
        '127.0.0.0/24',
        '127.0.0.1-127',
        '127.0.0.100-130',
        '::1',
      ]),
    ).toEqual(['127.0.0.200', '127.0.0.0/24', '127.0.0.100-130']);
  });

  it('checks ranges arithmetically: a /8 minus a single denied address', async () => {
    const scope = new ScanScope(['10.0.0.0/8'], ['10.200.3.4/32']);
    const started = Date.now();
    expect(
      await outOfScope(scope, ['10.0.0.0/8', '10.0.0.0/9', '10.200.3.0/24', '10.200.3.5-255', '10.*.*.1-3']),
    ).toEqual(['10.0.0.0/8', '10.200.3.0/24']);
    expect(await outOfScope(scope, ['10.*.3.4'])).toEqual(['10.*.3.4']);
    expect(await outOfScope(scope, ['10.*.3.5'])).toEqual([]);
    expect(Date.now() - started).toBeLessThan(200);
  });

  it('accepts a target covered by several adjacent allow blocks', async () => {
    const scope = new ScanScope(['10.0.0.0/25', '10.0.0.128/25'], []);
    expect(await outOfScope(scope, ['10.0.0.0/24'])).toEqual([]);
    expect(await outOfScope(scope, ['10.0.0.0/23'])).toEqual(['10.0.0.0/23']);
  });

  it('keeps families apart: an IPv4 allow list does not admit IPv6', async () => {
    const scope = new ScanScope(['0.0.0.0/0'], []);
    expect(await outOfScope(scope, ['192.0.2.1', '::1', '2001:db8::/120'])).toEqual([
      '::1',
      '2001:db8::/120',
    ]);
  });

  it('resolves host names and requires every address to be in scope', async () => {
    const names: Record<string, string[]> = {
      'lo.test': ['127.0.0.1', '::1'],
      'mixed.test': ['127.0.0.2', '192.0.2.10'],
      'doc.test': ['2001:db8::5'],
      'empty.test': [],
    };
    const resolve: HostResolver = async (host) => {
      if (!(host in names))
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return names[host];
    };
    expect(
      await outOfScope(
        defaultScope(),
        ['lo.test', 'mixed.test', 'doc.test', 'empty.test', 'missing.test'],
        resolve,
      ),
    ).toEqual(['mixed.test', 'doc.test', 'empty.test', 'missing.test']);
  });

  it('resolves localhost with the real resolver to loopback', async () => {
    await expect(defaultScope().checkSpecs(parseTargets(['localhost']))).resolves.toBeUndefined();
  });

  it('throws a ScopeError whose message lists the targets', async () => {
    const check = assertInScope(defaultScope(), parseTargets(['127.0.0.1', '192.0.2.1']));
    await expect(check).rejects.toBeInstanceOf(ScopeError);
    await expect(check).rejects.toThrow('targets outside the scan scope: 192.0.2.1');
  });

  it('shortens the message but keeps every target in outOfScope', async () => {
    const texts = Array.from({ length: 25 }, (_, i) => `192.0.2.${i + 1}`);
    const check = defaultScope().checkSpecs(parseTargets(texts));
    await expect(check).rejects.toThrow(/and 5 more$/);
    expect(await outOfScope(defaultScope(), texts)).toHaveLength(25);
  });
});

describe('ScanScope.covers', () => {
  it('is undefined for host names, which need resolving', () => {
    expect(defaultScope().covers(parseTargets(['localhost'])[0])).toBeUndefined();
  });
});

describe('ScanScope.outsideOf', () => {
  const scope = new ScanScope(['127.0.0.0/16', '::1/128'], ['127.0.0.128/25']);

  it('is empty for a block wholly in scope', () => {
    expect(scope.outsideOf('127.0.1.0/24')).toEqual([]);
    expect(scope.outsideOf('127.0.0.5')).toEqual([]);
    expect(scope.outsideOf('::1/128')).toEqual([]);
  });

  it('names the excluded part of a block as the fewest CIDRs', () => {
    expect(scope.outsideOf('127.0.0.0/24')).toEqual(['127.0.0.128/25']);
  });

  it('names the part beyond the allowed list', () => {
    expect(scope.outsideOf('127.0.0.0/14')).toEqual(['127.0.0.128/25', '127.1.0.0/16', '127.2.0.0/15']);
    expect(scope.outsideOf('127.0.0.0/8')).toHaveLength(1 + 8);
  });

  it('names a block wholly outside as itself', () => {
    expect(scope.outsideOf('10.0.0.0/8')).toEqual(['10.0.0.0/8']);
    expect(scope.outsideOf('::2/127')).toEqual(['::2/127']);
  });

  it('throws on a malformed block', () => {
    expect(() => scope.outsideOf('127.0.0.1/8')).toThrow(/host bits/);
  });
});
