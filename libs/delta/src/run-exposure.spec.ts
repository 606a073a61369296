import { expectedPortsOfRun, runExposure, runLookedAt, type ExposureRunHost } from './run-exposure';
import { scanOptionsOf } from './scan-options';

const host = (
  address: string,
  ports: Array<[string, number, string, string?]>,
  state = 'up',
): ExposureRunHost => ({
  address,
  state,
  ports: ports.map(([protocol, port, portState, service]) => ({
    protocol,
    port,
    state: portState,
    service: service ?? null,
  })),
});

describe('expectedPortsOfRun', () => {
  it("takes each up host's open ports in normal form and leaves out hosts without one", () => {
    expect(
      expectedPortsOfRun([
        host('127.0.9.5', [
          ['tcp', 443, 'open'],
          ['tcp', 80, 'open'],
          ['udp', 53, 'open|filtered'],
          ['tcp', 25, 'closed'],
        ]),
        host('127.0.9.6', [['tcp', 22, 'filtered']]),
        host('127.0.9.7', [['tcp', 22, 'open']], 'down'),
        host('127.0.9.10', [['udp', 161, 'open']]),
      ]),
    ).toEqual({ '127.0.9.10': ['udp/161'], '127.0.9.5': ['tcp/80', 'tcp/443'] });
  });

  it('takes the open IP protocols of an -sO run as ip/N (a 500 before: ip was no protocol of expected_ports)', () => {
    const run = [
      host('127.0.66.5', [
        ['ip', 17, 'open', 'udp'],
        ['ip', 6, 'open', 'tcp'],
        ['ip', 1, 'closed'],
      ]),
    ];
    const expected = expectedPortsOfRun(run);
    expect(expected).toEqual({ '127.0.66.5': ['ip/6', 'ip/17'] });
    const judged = runExposure(
      { hosts: run, scanned: new Set(['127.0.66.5']), options: scanOptionsOf(['-sO', '-p1,6,17']) },
      expected,
    );
    expect(judged.expected.map((p) => `${p.protocol}/${p.port}`)).toEqual(['ip/6', 'ip/17']);
    expect(judged.unexpected).toEqual([]);
  });

  it('takes port 0 too, which nmap scans with -p0 (a 500 before)', () => {
    expect(
      expectedPortsOfRun([
        host('127.0.66.5', [
          ['tcp', 0, 'open'],
          ['tcp', 8081, 'open'],
        ]),
      ]),
    ).toEqual({
      '127.0.66.5': ['tcp/0', 'tcp/8081'],
    });
  });

  it('leaves out what no expected port can name (an imported IP protocol above 255) instead of failing', () => {
    expect(
      expectedPortsOfRun([
        host('127.0.66.5', [
          ['ip', 300, 'open'],
          ['ip', 17, 'open'],
        ]),
      ]),
    ).toEqual({
      '127.0.66.5': ['ip/17'],
    });
    expect(expectedPortsOfRun([host('127.0.66.5', [['ip', 300, 'open']])])).toEqual({ '*': [] });
  });

  it('expects nothing open anywhere when no port is open (not "none set")', () => {
    expect(expectedPortsOfRun([host('127.0.9.5', [['tcp', 22, 'closed']])])).toEqual({ '*': [] });
    expect(expectedPortsOfRun([])).toEqual({ '*': [] });
  });
});

describe('runLookedAt', () => {
  const hosts = [host('127.0.9.5', [['tcp', 80, 'open']]), host('127.0.9.6', [], 'down')];
  const scanned = new Set(['127.0.9.5', '127.0.9.6']);

  it('needs a completed batch for the host and a port the options scanned', () => {
    const looked = runLookedAt({ hosts, scanned, options: scanOptionsOf(['-sT', '-p22,80']) });
    expect(looked('127.0.9.5', 'tcp', 22)).toBe(true);
    expect(looked('127.0.9.6', 'tcp', 22)).toBe(true);
    expect(looked('127.0.9.5', 'tcp', 443)).toBe(false);
    expect(looked('127.0.9.5', 'udp', 22)).toBe(false);
    expect(looked('127.0.9.7', 'tcp', 22)).toBe(false);
  });

  it('counts a top-N selection as looked at only on a host that answered', () => {
    const looked = runLookedAt({ hosts, scanned, options: scanOptionsOf(['-sT', '--top-ports=100']) });
    expect(looked('127.0.9.5', 'tcp', 22)).toBe(true);
    expect(looked('127.0.9.6', 'tcp', 22)).toBe(false);
    expect(looked('127.0.9.5', 'udp', 53)).toBe(false);
  });
});

describe('runExposure', () => {
  it('judges open ports with their service, and missing ones the run looked at', () => {
    const run = {
      hosts: [
        host('127.0.9.5', [
          ['tcp', 80, 'open', 'http'],
          ['tcp', 8080, 'open', 'http-proxy'],
        ]),
      ],
      scanned: new Set(['127.0.9.5', '127.0.9.9']),
      options: scanOptionsOf(['-sT', '-p80,443,8080']),
    };
    expect(
      runExposure(run, { '127.0.9.5': ['tcp/80', 'tcp/443', 'tcp/9999'], '127.0.9.9': ['tcp/80'] }),
    ).toEqual({
      expected: [{ host: '127.0.9.5', protocol: 'tcp', port: 80, service: 'http' }],
      unexpected: [{ host: '127.0.9.5', protocol: 'tcp', port: 8080, service: 'http-proxy' }],
      // tcp/9999 was not scanned: the run cannot tell. 127.0.9.9 was a target and did not answer.
      missing: [
        { host: '127.0.9.5', protocol: 'tcp', port: 443 },
        { host: '127.0.9.9', protocol: 'tcp', port: 80 },
      ],
    });
  });
});
