import { parseTargets, TargetSet } from '@nso/nmap';
import { DelegatedBatches, delegateTargets } from './delegation';

const setOf = (...targets: string[]) => TargetSet.build(parseTargets(targets), ['-sT'], {});

describe('delegateTargets', () => {
  it('gives each address to the most specific range; what no range covers is unassigned', () => {
    const set = setOf('127.0.50.0/24', '127.0.51.1');
    const delegation = delegateTargets(set, [
      { clientId: 'site-b', scanRange: ['127.0.50.128/25'] },
      { clientId: 'site-a', scanRange: ['127.0.50.0/25'] },
      { clientId: 'wide', scanRange: ['127.0.0.0/16'] },
    ]);
    expect(delegation.parts).toEqual([
      { clients: ['site-a'], ranges: ['127.0.50.0/25'] },
      { clients: ['site-b'], ranges: ['127.0.50.128/25'] },
      {
        clients: ['wide'],
        ranges: expect.arrayContaining(['127.0.0.0/19', '127.0.51.0/24', '127.0.128.0/17']),
      },
    ]);
    expect(delegation.unassigned).toEqual([]);
    const batches = new DelegatedBatches(set, delegation.parts, 100);
    expect(batches.total).toBe(2 + 2 + 1);
    expect(batches.batch(1)).toMatchObject({ clientId: 'site-a', targets: expect.any(Array) });
    expect(batches.batch(2).targets).toEqual(Array.from({ length: 28 }, (_, i) => `127.0.50.${100 + i}`));
    expect(batches.batch(3).targets[0]).toBe('127.0.50.128');
    expect(batches.batch(5)).toEqual({
      clientId: 'wide',
      agent: false,
      targets: ['127.0.51.1'],
      hostnames: {},
    });
    expect(batches.clientsTriggered()).toEqual(['site-a', 'site-b', 'wide']);
  });

  it('names the uncovered addresses as CIDRs, a single address bare', () => {
    const set = setOf('127.0.50.0/24', '127.0.51.1');
    const delegation = delegateTargets(set, [
      { clientId: 'a', scanRange: ['127.0.50.0/25'] },
      { clientId: 'b', scanRange: ['127.0.50.128/26'] },
    ]);
    expect(delegation.unassigned).toEqual(['127.0.50.192/26', '127.0.51.1']);
    expect(new DelegatedBatches(set, delegation.parts, 256).targets).toBe(192);
  });

  it('clients with the same range share its batches in turn', () => {
    const set = setOf('127.0.0.0/24');
    const { parts } = delegateTargets(set, [
      { clientId: 'p2', scanRange: ['127.0.0.0/8'] },
      { clientId: 'p1', scanRange: ['127.0.0.0/8'] },
    ]);
    expect(parts).toEqual([{ clients: ['p1', 'p2'], ranges: ['127.0.0.0/8'] }]);
    const batches = new DelegatedBatches(set, parts, 64);
    expect([1, 2, 3, 4].map((seq) => batches.clientOf(seq))).toEqual(['p1', 'p2', 'p1', 'p2']);
    expect(new DelegatedBatches(set, parts, 256).clientsTriggered()).toEqual(['p1']);
  });

  it('splits a /8 among ranges without expanding it', () => {
    const set = setOf('127.0.0.0/8');
    const { parts, unassigned } = delegateTargets(set, [
      { clientId: 'a', scanRange: ['127.0.0.0/9'] },
      { clientId: 'b', scanRange: ['127.128.0.0/10'] },
    ]);
    expect(unassigned).toEqual(['127.192.0.0/10']);
    const batches = new DelegatedBatches(set, parts, 256);
    expect(batches.total).toBe(32768 + 16384);
    expect(batches.batch(32769)).toMatchObject({ clientId: 'b' });
    expect(batches.batch(32769).targets[0]).toBe('127.128.0.0');
  });

  it("a run stored before delegation is wholly the local pool's; no client at all leaves every target unassigned", () => {
    const set = setOf('127.0.0.1-4');
    const legacy = new DelegatedBatches(set, null, 2);
    expect([legacy.total, legacy.clientOf(2)]).toEqual([2, 'local']);
    expect(delegateTargets(set, [])).toEqual({
      parts: [],
      unassigned: ['127.0.0.1', '127.0.0.2/31', '127.0.0.4'],
    });
  });

  it('marks the HTTP agents of a part, whose batches are pushed rather than queued', () => {
    const set = setOf('127.0.52.0/30', '127.0.53.1');
    const { parts } = delegateTargets(set, [
      { clientId: 'agent-1', kind: 'agent', scanRange: ['127.0.52.0/24'] },
      { clientId: 'local', kind: 'pool', scanRange: ['127.0.0.0/8'] },
    ]);
    expect(parts[0]).toEqual({ clients: ['agent-1'], ranges: ['127.0.52.0/24'], agents: ['agent-1'] });
    const batches = new DelegatedBatches(set, parts, 4);
    expect([batches.isAgentBatch(1), batches.isAgentBatch(2)]).toEqual([true, false]);
    // A part may cut its own batch size (AGENT_TASK_TARGETS): stored with it, so every cut agrees.
    const big = new DelegatedBatches(setOf('127.0.52.0/24'), [{ ...parts[0], chunkSize: 200 }], 16);
    expect([big.total, big.batch(1).targets.length, big.batch(2).targets.length]).toEqual([2, 200, 56]);
  });

  it('ignores ranges of the other family', () => {
    const set = setOf('127.0.0.1');
    expect(delegateTargets(set, [{ clientId: 'v6', scanRange: ['::1/128'] }]).unassigned).toEqual([
      '127.0.0.1',
    ]);
  });
});
