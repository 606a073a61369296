import { resultValueProblems, unlistedStatesOf, type HostResultInput } from './batch-hosts';

const host = (over: Partial<HostResultInput> = {}): HostResultInput => ({
  address: '127.0.0.5',
  addressType: 'ipv4',
  hostnames: [],
  state: 'up',
  ports: [
    { protocol: 'tcp', port: 22, state: 'open', service: { name: 'ssh', cpe: ['cpe:/a:openbsd:openssh'] } },
  ],
  ...over,
});

// What storeResult refuses before writing (and the XML import answers 400 with): each problem names the host,
// the port and the field.
describe('resultValueProblems', () => {
  it('finds nothing in values that fit', () => {
    expect(resultValueProblems([host(), host({ address: '127.0.0.6', ports: [] })])).toEqual([]);
  });

  it('names the host, port and field of each problem', () => {
    const problems = resultValueProblems([
      host({ reason: 'x'.repeat(256), hostnames: [{ name: 'a\u0000b' }] }),
      host({
        address: '127.0.0.7',
        ports: [
          { protocol: 'tcp', port: 70000, state: 'open' },
          {
            protocol: 'tcp',
            port: 80,
            state: 'open\u0000',
            service: { version: 'v'.repeat(300), cpe: ['c\u0000'] },
          },
        ],
      }),
    ]);
    expect(problems).toEqual([
      '"127.0.0.5": reason is 256 characters long (at most 255)',
      '"127.0.0.5": hostnames contains a NUL character',
      '"127.0.0.7" tcp/70000: port is not a number from 0 to 65535',
      '"127.0.0.7" tcp/80: state contains a NUL character',
      '"127.0.0.7" tcp/80: version is 300 characters long (at most 255)',
      '"127.0.0.7" tcp/80: cpe contains a NUL character',
    ]);
  });

  it('reads a port without a service (undefined or null)', () => {
    const ports = [
      { protocol: 'tcp', port: 1, state: 'closed' },
      { protocol: 'tcp', port: 2, state: 'closed', service: null as unknown as undefined },
    ];
    expect(resultValueProblems([host({ ports })])).toEqual([]);
  });
});

describe('unlistedStatesOf', () => {
  it.each([
    [undefined, null],
    [[], null],
    [[{ state: 'closed', count: 997 }], 'closed'],
    [
      [
        { state: 'filtered', count: 3 },
        { state: 'closed', count: 990 },
        { state: 'filtered', count: 4 },
      ],
      'closed,filtered',
    ],
  ])('%j → %j', (extraPorts, states) => {
    expect(unlistedStatesOf(extraPorts)).toBe(states);
  });
});
