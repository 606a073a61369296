import { judgeExposure, parseExpectedPorts, parsePortKey } from './expected-ports';

const everything = () => true;

describe('parseExpectedPorts', () => {
  it('normalises addresses and ports, merging keys of one address', () => {
    expect(
      parseExpectedPorts({
        '*': ['TCP/22'],
        '127.0.9.5': ['tcp/443', 'tcp/80', 'tcp/80'],
        '::ffff:127.0.9.5': ['udp/53'],
      }),
    ).toEqual({ expected: { '*': ['tcp/22'], '127.0.9.5': ['tcp/80', 'tcp/443', 'udp/53'] } });
  });

  it('names every problem and takes nothing', () => {
    const parsed = parseExpectedPorts({
      'not-an-ip': ['tcp/22'],
      '127.0.0.1': ['tcp/65536', 'icmp/1', 22],
      '::1': 'tcp/1',
    });
    expect(parsed.expected).toBeUndefined();
    expect(parsed.problems).toEqual([
      { path: 'expected_ports["not-an-ip"]', message: 'must be "*" or an IP address' },
      { path: 'expected_ports["127.0.0.1"][0]', message: expect.stringContaining('"tcp/N"') },
      { path: 'expected_ports["127.0.0.1"][1]', message: expect.stringContaining('"tcp/N"') },
      { path: 'expected_ports["127.0.0.1"][2]', message: expect.stringContaining('"tcp/N"') },
      { path: 'expected_ports["::1"]', message: 'must be an array of "protocol/port" strings' },
    ]);
  });

  it('refuses what is not an object', () => {
    for (const value of [null, [], 'tcp/22', 3])
      expect(parseExpectedPorts(value).problems?.[0].path).toBe('expected_ports');
  });

  it('reads port keys as nmap protocols and ports', () => {
    expect(parsePortKey('sctp/65535')).toBe('sctp/65535');
    expect(parsePortKey('tcp/65536')).toBeUndefined();
    expect(parsePortKey('tcp/ 22')).toBeUndefined();
    // -sO lists IP protocols 0-255 as ports of protocol `ip`.
    expect(parsePortKey('ip/6')).toBe('ip/6');
    expect(parsePortKey('ip/0')).toBe('ip/0');
    expect(parsePortKey('ip/256')).toBeUndefined();
    // Port 0 is a port nmap scans (-p0, as the policy and imports take it): a run can find it open.
    expect(parsePortKey('tcp/0')).toBe('tcp/0');
  });
});

describe('judgeExposure', () => {
  const host = (address: string, open: number[], state = 'up') => ({
    address,
    state,
    ports: [
      ...open.map((port) => ({ protocol: 'tcp', port, state: 'open' })),
      { protocol: 'tcp', port: 25, state: 'closed' },
    ],
  });

  it('sorts every open port into expected or unexpected and lists expected ports not open as missing', () => {
    const expected = { '*': ['tcp/22'], '127.0.9.5': ['tcp/80', 'tcp/443'] } as const;
    expect(
      judgeExposure([host('127.0.9.5', [22, 80, 8080]), host('127.0.9.6', [])], expected, everything),
    ).toEqual({
      expected: [
        { host: '127.0.9.5', protocol: 'tcp', port: 22 },
        { host: '127.0.9.5', protocol: 'tcp', port: 80 },
      ],
      unexpected: [{ host: '127.0.9.5', protocol: 'tcp', port: 8080 }],
      missing: [
        { host: '127.0.9.5', protocol: 'tcp', port: 443 },
        { host: '127.0.9.6', protocol: 'tcp', port: 22 },
      ],
    });
  });

  it('"*" does not apply to hosts that did not answer; a named host that is down or absent misses its ports', () => {
    const expected = { '*': ['tcp/22'], '127.0.9.7': ['tcp/80'] } as const;
    expect(judgeExposure([host('127.0.9.6', [], 'down')], expected, everything).missing).toEqual([
      { host: '127.0.9.7', protocol: 'tcp', port: 80 },
    ]);
  });

  it('a port the run did not look at is never missing', () => {
    const expected = { '127.0.9.5': ['tcp/80', 'udp/53'] } as const;
    const tcpOnly = (_host: string, protocol: string) => protocol === 'tcp';
    expect(judgeExposure([host('127.0.9.5', [])], expected, tcpOnly).missing).toEqual([
      { host: '127.0.9.5', protocol: 'tcp', port: 80 },
    ]);
  });

  it('without expected ports every open port is unexpected', () => {
    expect(judgeExposure([host('127.0.9.5', [22])], {}, everything)).toEqual({
      expected: [],
      unexpected: [{ host: '127.0.9.5', protocol: 'tcp', port: 22 }],
      missing: [],
    });
  });
});
