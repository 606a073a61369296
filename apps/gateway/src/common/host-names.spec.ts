import { servedHostCheck } from './host-names';

const loopback = { host: '127.0.0.1', publicOrigins: [], trustProxy: false as const };

describe('servedHostCheck', () => {
  it('on a loopback gateway serves the names of this machine and IP addresses only', () => {
    const served = servedHostCheck(loopback)!;
    for (const host of [
      '127.0.0.1:3000',
      '127.9.9.9',
      'localhost',
      'LOCALHOST:3000',
      'app.localhost:1',
      'localhost.:80',
      '[::1]:3000',
      // A page whose origin is an address was served from it: no name was rebound.
      '10.0.0.1:3000',
      '[2001:db8::1]',
    ]) {
      expect([host, served(host)]).toEqual([host, true]);
    }
    for (const host of [
      'rebind.attacker.test:3000',
      'localhost.attacker.test',
      '127.0.0.1.attacker.test',
      '127.0.0.1@evil.test',
      'evil.test/x',
      '',
    ]) {
      expect([host, served(host)]).toEqual([host, false]);
    }
    // Not a browser: nothing to rebind.
    expect(served(undefined)).toBe(true);
  });

  it('adds the hosts of PUBLIC_ORIGINS, whatever the port', () => {
    const served = servedHostCheck({ ...loopback, publicOrigins: ['https://nso.example.test'] })!;
    expect(served('nso.example.test')).toBe(true);
    expect(served('Nso.Example.Test:8443')).toBe(true);
    expect(served('other.example.test')).toBe(false);
    // An origin URL cannot read (the config's pattern lets "http://[" through) names nothing, and throws nothing.
    expect(servedHostCheck({ ...loopback, publicOrigins: ['http://['] })!('localhost')).toBe(true);
  });

  it('checks nothing beyond loopback, or behind a proxy whose public names it was not told', () => {
    expect(servedHostCheck({ ...loopback, host: '0.0.0.0' })).toBeUndefined();
    expect(servedHostCheck({ ...loopback, trustProxy: 'loopback' })).toBeUndefined();
    expect(
      servedHostCheck({ ...loopback, trustProxy: 1, publicOrigins: ['https://nso.example.test'] }),
    ).toBeDefined();
  });
});
