import { clientNetwork } from './client-network';

describe('clientNetwork', () => {
  it('counts an IPv4 client by its address', () => {
    expect(clientNetwork('203.0.113.7')).toBe('203.0.113.7');
  });

  it('reads an IPv4-mapped IPv6 address (dual-stack sockets) as the IPv4 client', () => {
    expect(clientNetwork('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(clientNetwork('::FFFF:203.0.113.7')).toBe('203.0.113.7');
  });

  it('counts every address of one IPv6 /64 as one client', () => {
    const network = '2001:db8:aa:bb::/64';
    expect(clientNetwork('2001:db8:aa:bb::1')).toBe(network);
    expect(clientNetwork('2001:0db8:00aa:00bb:dead:beef:0:1')).toBe(network);
    expect(clientNetwork('2001:DB8:AA:BB:1:2:3:4')).toBe(network);
    expect(clientNetwork('2001:db8:aa:bc::1')).not.toBe(network);
  });

  it('expands "::" wherever it stands', () => {
    expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
    expect(clientNetwork('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(clientNetwork('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientNetwork('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
  });

  it('leaves anything that is not an address as it is', () => {
    expect(clientNetwork('unknown')).toBe('unknown');
  });
});
