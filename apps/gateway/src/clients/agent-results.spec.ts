import { agentResultHosts, agentResultsDigest, AgentResultsFormatError, MAX_PROBLEMS } from './agent-results';

describe('agentResultHosts', () => {
  it("reads seed 003's parsed_results as host and port rows, ports keyed by protocol and number", () => {
    const hosts = agentResultHosts({
      '127.0.52.7': {
        hostname: 'lab-7',
        state: 'up',
        open_ports: [22, 80, 8080],
        port_details: {
          '22': { protocol: 'tcp', name: 'ssh', product: 'OpenSSH', version: '8.2' },
          '53': { protocol: 'udp', name: 'domain' },
          '80': { protocol: 'tcp', name: 'http', product: 'nginx', version: '1.18', extrainfo: '' },
        },
      },
    });
    expect(hosts).toEqual([
      {
        address: '127.0.52.7',
        addressType: 'ipv4',
        hostnames: [{ name: 'lab-7', type: 'PTR' }],
        state: 'up',
        ports: [
          {
            protocol: 'tcp',
            port: 22,
            state: 'open',
            service: { name: 'ssh', product: 'OpenSSH', version: '8.2' },
          },
          { protocol: 'udp', port: 53, state: 'open', service: { name: 'domain' } },
          {
            protocol: 'tcp',
            port: 80,
            state: 'open',
            service: { name: 'http', product: 'nginx', version: '1.18' },
          },
          { protocol: 'tcp', port: 8080, state: 'open' },
        ],
      },
    ]);
  });

  it('names every malformed entry', () => {
    expect(() =>
      agentResultHosts({ 'not-an-ip': {}, '127.0.0.1': { open_ports: ['x'] }, '::1': 'up' }),
    ).toThrow(AgentResultsFormatError);
    try {
      agentResultHosts({ 'not-an-ip': {}, '127.0.0.1': { open_ports: [0] } });
      throw new Error('not refused');
    } catch (error) {
      expect((error as AgentResultsFormatError).problems).toEqual([
        '"not-an-ip" is not an IP address',
        '127.0.0.1: open_ports must be port numbers (1-65535)',
      ]);
    }
  });

  it('reads what the original agent sends for a host (its extra keys ignored, closed ports kept)', () => {
    const [host] = agentResultHosts({
      '127.0.5.1': {
        target: '127.0.5.1',
        nmap: { command_line: 'nmap -oX - -p 22 -sT 127.0.5.1', scaninfo: {}, scanstats: {} },
        hostname: '',
        state: 'up',
        addresses: { ipv4: '127.0.5.1' },
        vendor: {},
        open_ports: [22],
        port_details: {
          '22': {
            protocol: 'tcp',
            state: 'open',
            name: 'ssh',
            product: '',
            version: '',
            extrainfo: '',
            reason: 'syn-ack',
            conf: '3',
            cpe: '',
          },
          '23': {
            protocol: 'tcp',
            state: 'closed',
            name: 'telnet',
            product: '',
            version: '',
            extrainfo: '',
            reason: 'conn-refused',
            conf: '3',
            cpe: '',
          },
        },
        os_detection: null,
      },
    });
    expect(host).toEqual({
      address: '127.0.5.1',
      addressType: 'ipv4',
      hostnames: [],
      state: 'up',
      ports: [
        { protocol: 'tcp', port: 22, state: 'open', service: { name: 'ssh' } },
        { protocol: 'tcp', port: 23, state: 'closed', service: { name: 'telnet' } },
      ],
    });
  });

  it.each([' 22', '22.0', '+23', '1e1', '0x16', '022', '0', '65536', ''])(
    'refuses the port key %j: canonical decimal ports only',
    (key) => {
      expect(() =>
        agentResultHosts({ '127.0.0.1': { port_details: { [key]: { protocol: 'tcp' } } } }),
      ).toThrow(/is not a port number/);
    },
  );

  it.each(['Up', 'alive', 'error\u0000', ''])(
    "refuses the host state %j: nmap's host states only",
    (state) => {
      expect(() => agentResultHosts({ '127.0.0.1': { state } })).toThrow(/nmap's host states/);
    },
  );

  it("stores the original agent's `error` host state as nmap's unknown", () => {
    expect(agentResultHosts({ '127.0.0.1': { state: 'error' } })[0].state).toBe('unknown');
  });

  it('refuses port states nmap does not have, and an IPv6 zone in an address', () => {
    expect(() =>
      agentResultHosts({ '127.0.0.1': { port_details: { '22': { state: 'wide open' } } } }),
    ).toThrow(/port states/);
    expect(() => agentResultHosts({ 'fe80::1%lo': { state: 'up' } })).toThrow(/is not an IP address/);
  });

  it('strips control characters from text and bounds its length (both databases store the same)', () => {
    const [host] = agentResultHosts({
      '127.0.0.1': {
        hostname: 'lab\u0000-1\u001b[31m',
        port_details: { '22': { product: 'Open\u0000SSH\u0085', version: 'x'.repeat(1000) } },
      },
    });
    expect(host.hostnames).toEqual([{ name: 'lab-1[31m', type: 'PTR' }]);
    expect(host.ports[0].service).toEqual({ product: 'OpenSSH', version: 'x'.repeat(255) });
  });

  it('names a bounded sample of the problems and counts them all', () => {
    const parsed = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`bad-${i}`, {}]));
    try {
      agentResultHosts(parsed);
      throw new Error('not refused');
    } catch (error) {
      const refusal = error as AgentResultsFormatError;
      expect(refusal.problems).toHaveLength(MAX_PROBLEMS);
      expect(refusal.count).toBe(5000);
      expect(refusal.message.length).toBeLessThan(1000);
    }
  });

  it('digests what the results mean: key order and unstored fields do not change it', () => {
    const a = agentResultHosts({
      '127.0.0.2': { state: 'up', hostname: 'b', open_ports: [80, 22] },
      '127.0.0.1': { hostname: 'a', state: 'up', port_details: { '22': { name: 'ssh', protocol: 'tcp' } } },
    });
    const b = agentResultHosts({
      '127.0.0.1': { port_details: { '22': { protocol: 'tcp', name: 'ssh' } }, state: 'up', hostname: 'a' },
      '127.0.0.2': { open_ports: [22, 80], hostname: 'b', state: 'up' },
    });
    expect(agentResultsDigest('completed', undefined, a)).toBe(agentResultsDigest('completed', undefined, b));
    const other = agentResultHosts({ '127.0.0.1': { state: 'up', hostname: 'a' } });
    expect(agentResultsDigest('completed', undefined, other)).not.toBe(
      agentResultsDigest('completed', undefined, a),
    );
    expect(agentResultsDigest('failed', 'x', [])).not.toBe(agentResultsDigest('failed', 'y', []));
  });
});
