import { ScopeError, TargetError } from './errors';
import { HostResolver, ScanScope } from './scope';
import { MAX_TARGET_INTERVALS, resolveTargets, runFamily, TargetSet } from './target-set';
import { parseTargets } from './targets';

const scope = new ScanScope(['127.0.0.0/8', '::1/128'], []);

/** A resolver with fixed answers, counting its calls: names must be resolved once. */
function fakeResolver(answers: Record<string, string[]>): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (host: string): Promise<string[]> => {
    calls.push(host);
    if (!(host in answers)) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    return answers[host];
  };
  return Object.assign(resolve, { calls });
}

const LOCALHOST = { localhost: ['::1', '127.0.0.1'] };

async function plan(targets: string[], flags: string[] = [], answers: Record<string, string[]> = LOCALHOST) {
  const specs = parseTargets(targets);
  const resolver = fakeResolver(answers);
  const names = await resolveTargets(specs, flags, scope, resolver);
  return { names, set: TargetSet.build(specs, flags, names), calls: resolver.calls };
}

describe('resolveTargets', () => {
  it('resolves each name once and keeps the address of the run family (IPv4 unless -6)', async () => {
    const { names, calls } = await plan(['localhost', 'localhost', 'localhost.']);
    expect(calls).toEqual(['localhost']);
    expect(names).toEqual({ localhost: ['127.0.0.1'] });
  });

  it('picks the IPv6 address with -6, and every address of the family with --resolve-all', async () => {
    expect((await plan(['localhost'], ['-6'])).names).toEqual({ localhost: ['::1'] });
    const answers = { multi: ['127.0.0.2', '127.0.0.3', '::1'] };
    expect((await plan(['multi'], [], answers)).names).toEqual({ multi: ['127.0.0.2'] });
    expect((await plan(['multi'], ['--resolve-all'], answers)).names).toEqual({
      multi: ['127.0.0.2', '127.0.0.3'],
    });
  });

  it('checks the scope of the addresses it resolved; a name that does not resolve is outside', async () => {
    const answers = { inside: ['127.0.0.9'], outside: ['192.0.2.7'] };
    await expect(plan(['inside', 'outside', 'nowhere', '127.0.0.1'], [], answers)).rejects.toEqual(
      new ScopeError('targets outside the scan scope: outside, nowhere', ['outside', 'nowhere']),
    );
  });

  it('refuses a name with no address of the run family', async () => {
    const error = await plan(['v6only'], [], { v6only: ['::1'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TargetError);
    expect((error as TargetError).targets).toEqual(['v6only']);
    expect((error as Error).message).toMatch(/no IPv4 address.*add -6/);
  });
});

describe('runFamily', () => {
  it.each<[string[], string[], 4 | 6]>([
    [['127.0.0.1'], [], 4],
    [['::1'], [], 6],
    [['localhost'], ['-6'], 6],
    [['localhost'], [], 4],
  ])('%j with %j scans IPv%s', (targets, flags, family) => {
    expect(runFamily(parseTargets(targets), flags)).toBe(family);
  });

  it.each<[string[], string[], RegExp, string[]]>([
    // Issue 8, B.5: nmap 7.93 skips the IPv4 target under -6 and "completes" having scanned nothing.
    [['127.0.0.1'], ['-6'], /-6 scans IPv6 only/, ['127.0.0.1']],
    [['localhost', '127.0.0.0/30'], ['-6'], /-6 scans IPv6 only/, ['127.0.0.0/30']],
    [['::1'], ['-4'], /-4 scans IPv4 only/, ['::1']],
    [['127.0.0.1', '::1'], [], /targets mix IPv4 \(127.0.0.1\) and IPv6 \(::1\)/, ['::1']],
  ])('refuses %j with %j', (targets, flags, message, named) => {
    const run = () => runFamily(parseTargets(targets), flags);
    expect(run).toThrow(TargetError);
    expect(run).toThrow(message);
    try {
      run();
    } catch (error) {
      expect((error as TargetError).targets).toEqual(named);
    }
  });
});

describe('TargetSet', () => {
  it('scans each address once: duplicates and a name resolving to a listed address merge (issue 8, B.7)', async () => {
    const { set } = await plan(['127.0.0.5', 'localhost', '127.0.0.5']);
    expect(set.count).toBe(2);
    expect(set.slice(0, 10)).toEqual(['127.0.0.1', '127.0.0.5']);
    expect([set.slice(0, 1), set.slice(1, 1), set.slice(2, 1)]).toEqual([['127.0.0.1'], ['127.0.0.5'], []]);
    expect(set.namesFor(['127.0.0.1', '127.0.0.5'])).toEqual({ '127.0.0.1': ['localhost'] });
  });

  it('merges overlapping CIDRs, ranges and wildcards into disjoint intervals', async () => {
    const { set } = await plan(['127.0.0.0/30', '127.0.0.2-5', '127.0.0.*', '127.0.1.0/31', '127.0.0.255']);
    expect(set.intervals.length).toBe(1);
    expect(set.count).toBe(258);
    expect(set.slice(254, 10)).toEqual(['127.0.0.254', '127.0.0.255', '127.0.1.0', '127.0.1.1']);
  });

  it('keeps a /8 as one interval and slices anywhere in it without expanding it', async () => {
    const { set } = await plan(['127.0.0.0/8', '127.5.0.0/16']);
    expect(set.intervals.length).toBe(1);
    expect(set.count).toBe(2 ** 24);
    const started = Date.now();
    expect(set.slice(2 ** 24 - 2, 5)).toEqual(['127.255.255.254', '127.255.255.255']);
    expect(set.slice(65536 * 7 + 3, 2)).toEqual(['127.7.0.3', '127.7.0.4']);
    expect(Date.now() - started).toBeLessThan(50);
  });

  it('turns octet ranges into runs of their last partial octet, in ascending order', async () => {
    const { set } = await plan(['127.0-1.0.1,3,4', '127.0.0.2']);
    expect(set.slice(0, 20)).toEqual([
      '127.0.0.1',
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.4',
      '127.1.0.1',
      '127.1.0.3',
      '127.1.0.4',
    ]);
    expect(set.intervals.length).toBe(3);
  });

  it('handles IPv6 blocks and addresses', async () => {
    const scope6 = new ScanScope(['::1/128', 'fd00::/112'], []);
    const specs = parseTargets(['fd00::/126', 'fd00::2', 'fd00::10']);
    const names = await resolveTargets(specs, [], scope6, fakeResolver({}));
    const set = TargetSet.build(specs, [], names);
    expect(set.family).toBe(6);
    expect(set.slice(0, 10)).toEqual(['fd00::', 'fd00::1', 'fd00::2', 'fd00::3', 'fd00::10']);
  });

  it(`refuses targets that make more than ${MAX_TARGET_INTERVALS} separate ranges`, () => {
    expect(() => TargetSet.build(parseTargets(['127.*.*.1,3']), [], {})).toThrow(/separate address ranges/);
    expect(() => TargetSet.build(parseTargets(['*.*.*.1']), [], {})).toThrow(TargetError);
    expect(TargetSet.build(parseTargets(['127.*.*.1']), [], {}).count).toBe(65536);
  });

  it('refuses a host name it has no resolution for (it never resolves one itself)', () => {
    expect(() => TargetSet.build(parseTargets(['localhost']), [], {})).toThrow(/has not been resolved/);
  });
});
