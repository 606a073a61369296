import { agentResultHosts, AgentResultsFormatError } from './agent-results';

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
    } catch (error) {
      expect((error as AgentResultsFormatError).problems).toEqual([
        '"not-an-ip" is not an IP address',
        '127.0.0.1: open_ports must be port numbers',
      ]);
    }
  });
});
