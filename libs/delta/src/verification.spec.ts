import type { DeltaHostInput } from './diff';
import {
  judgeVerification,
  verificationFlags,
  verificationTargets,
  type VerificationRun,
} from './verification';

const rescan = (hosts: DeltaHostInput[], scanned: string[], completed = true): VerificationRun => ({
  completed,
  hosts: new Map(hosts.map((h) => [h.address, h])),
  coverage: { scanned: new Set(scanned) },
});
const port = (p: number, state = 'open', service: string | null = 'http', version: string | null = null) => ({
  protocol: 'tcp',
  port: p,
  state,
  service,
  product: null,
  version,
  extrainfo: null,
});
const change = (kind: string, address: string, p: number | null, extra: Record<string, unknown> = {}) =>
  ({
    kind,
    address,
    protocol: p === null ? null : 'tcp',
    port: p,
    after: null,
    detail: null,
    ...extra,
  }) as Parameters<typeof judgeVerification>[0];

describe('verificationTargets', () => {
  it('collects each changed host once and the changed ports per protocol, ignoring unverified entries', () => {
    const targets = verificationTargets([
      { kind: 'added_port', address: '127.0.0.2', protocol: 'tcp', port: 8080 },
      { kind: 'removed_port', address: '127.0.0.3', protocol: 'tcp', port: 22 },
      { kind: 'added_port', address: '127.0.0.2', protocol: 'udp', port: 53 },
      { kind: 'new_up_host', address: '127.0.0.4', protocol: null, port: null },
      { kind: 'unverified_port', address: '127.0.0.9', protocol: 'tcp', port: 25 },
    ]);
    expect(targets).toEqual({
      hosts: ['127.0.0.2', '127.0.0.3', '127.0.0.4'],
      ports: { tcp: [22, 8080], udp: [53] },
    });
  });
});

describe('verificationFlags', () => {
  it('keeps scan types and timing, turns -A into -sV, drops scripts and OS detection, and scans the changed ports', () => {
    expect(
      verificationFlags(['-sT', '-A', '-T4', '-Pn', '--top-ports=100', '--script', 'vuln', '-O'], {
        hosts: ['127.0.0.2'],
        ports: { tcp: [22, 8080] },
      }),
    ).toEqual(['-sT', '-sV', '-T4', '-Pn', '-pT:22,8080']);
  });

  it('drops a scan type whose protocol has no changed port, and keeps -sV', () => {
    expect(
      verificationFlags(['-sS', '-sU', '-sV', '-p22,53'], { hosts: ['127.0.0.2'], ports: { udp: [53] } }),
    ).toEqual(['-sU', '-sV', '-pU:53']);
  });

  it('drops --open: the rescan must see a host whose ports all closed, or it would judge it not answering', () => {
    expect(
      verificationFlags(['-sT', '-Pn', '-n', '--open', '-p8081,8082'], {
        hosts: ['127.0.66.6'],
        ports: { tcp: [8082] },
      }),
    ).toEqual(['-sT', '-Pn', '-n', '-pT:8082']);
  });

  it('rescans an IP protocol scan (-sO) on the changed protocols, not as a host discovery that sees none', () => {
    const changes = [{ kind: 'added_port', address: '127.0.66.5', protocol: 'ip', port: 17 }] as const;
    const targets = verificationTargets(changes);
    expect(targets).toEqual({ hosts: ['127.0.66.5'], ports: { ip: [17] } });
    expect(verificationFlags(['-sO', '-Pn', '-p6,17'], targets)).toEqual(['-sO', '-Pn', '-pP:17']);
  });

  it('drops a rate-limit option whose scan type the rescan does not run (the policy would refuse the rescan)', () => {
    const run = ['-sS', '-sU', '--defeat-icmp-ratelimit', '--defeat-rst-ratelimit', '-p22,53'];
    expect(verificationFlags(run, { hosts: ['127.0.0.2'], ports: { tcp: [22] } })).toEqual([
      '-sS',
      '--defeat-rst-ratelimit',
      '-pT:22',
    ]);
    expect(verificationFlags(run, { hosts: ['127.0.0.2'], ports: { udp: [53] } })).toEqual([
      '-sU',
      '--defeat-icmp-ratelimit',
      '-pU:53',
    ]);
    expect(verificationFlags(run, { hosts: ['127.0.0.2'], ports: {} })).toEqual(['-sn']);
  });

  it('is a host discovery when only hosts changed', () => {
    expect(verificationFlags(['-sT', '-p1-1024', '-T4'], { hosts: ['127.0.0.2'], ports: {} })).toEqual([
      '-sn',
      '-T4',
    ]);
  });
});

describe('judgeVerification', () => {
  const up = (address: string, ports: ReturnType<typeof port>[], unlisted?: string[]): DeltaHostInput => ({
    address,
    state: 'up',
    ports,
    ...(unlisted ? { unlistedStates: unlisted } : {}),
  });

  it('confirms an added port found open again, and calls one found closed not confirmed (a flap)', () => {
    const added = change('added_port', '127.0.0.2', 8080);
    expect(judgeVerification(added, rescan([up('127.0.0.2', [port(8080)])], ['127.0.0.2']))).toBe(
      'confirmed',
    );
    expect(judgeVerification(added, rescan([up('127.0.0.2', [])], ['127.0.0.2']))).toBe('not_confirmed');
  });

  it('confirms a removed port still not open (unlisted as filtered) and not one open again', () => {
    const removed = change('removed_port', '127.0.0.2', 22);
    expect(judgeVerification(removed, rescan([up('127.0.0.2', [], ['filtered'])], ['127.0.0.2']))).toBe(
      'confirmed',
    );
    expect(judgeVerification(removed, rescan([up('127.0.0.2', [port(22)])], ['127.0.0.2']))).toBe(
      'not_confirmed',
    );
  });

  it('calls a port change unverifiable when the rescan gave up on the host (--host-timeout: ports unknown)', () => {
    const timedOut = rescan([up('127.0.0.2', [], ['unknown'])], ['127.0.0.2']);
    expect(judgeVerification(change('removed_port', '127.0.0.2', 22), timedOut)).toBe('unverifiable');
    expect(judgeVerification(change('added_port', '127.0.0.2', 22), timedOut)).toBe('unverifiable');
  });

  it('compares only the changed service fields of a changed port', () => {
    const changed = change('changed_port', '127.0.0.2', 80, {
      after: { state: 'open', service: 'http', product: null, version: '2.4', extrainfo: null },
      detail: { changed: ['version'] },
    });
    expect(
      judgeVerification(changed, rescan([up('127.0.0.2', [port(80, 'open', 'www', '2.4')])], ['127.0.0.2'])),
    ).toBe('confirmed');
    expect(
      judgeVerification(changed, rescan([up('127.0.0.2', [port(80, 'open', 'http', '2.2')])], ['127.0.0.2'])),
    ).toBe('not_confirmed');
  });

  it('judges host changes by whether the host answered', () => {
    const newUp = change('new_up_host', '127.0.0.4', null);
    const newDown = change('new_down_host', '127.0.0.4', null);
    const answered = rescan([up('127.0.0.4', [])], ['127.0.0.4']);
    const silent = rescan([], ['127.0.0.4']);
    expect(judgeVerification(newUp, answered)).toBe('confirmed');
    expect(judgeVerification(newUp, silent)).toBe('not_confirmed');
    expect(judgeVerification(newDown, silent)).toBe('confirmed');
    expect(judgeVerification(newDown, answered)).toBe('not_confirmed');
  });

  it('cannot verify what the rescan did not see: a failed rescan, an address it did not cover, a silent host', () => {
    const added = change('added_port', '127.0.0.2', 8080);
    expect(judgeVerification(added, rescan([up('127.0.0.2', [port(8080)])], ['127.0.0.2'], false))).toBe(
      'unverifiable',
    );
    expect(judgeVerification(added, rescan([up('127.0.0.2', [port(8080)])], []))).toBe('unverifiable');
    expect(judgeVerification(added, rescan([], ['127.0.0.2']))).toBe('unverifiable');
  });
});
