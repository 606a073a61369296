import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NmapXmlError } from './errors';
import { parseNmapXml, portKey, summarizeResult, withUserHostnames } from './parser';
import { NmapHost, NmapHostname } from './types';

// Recorded from real nmap 7.93 runs against loopback listeners: see test/fixtures/record-fixtures.sh.
const fixture = (name: string): string =>
  readFileSync(join(__dirname, '..', 'test', 'fixtures', name), 'utf8');

async function xmlError(xml: string): Promise<NmapXmlError> {
  try {
    await parseNmapXml(xml);
  } catch (err) {
    if (err instanceof NmapXmlError) return err;
    throw err;
  }
  throw new Error('expected an NmapXmlError');
}

describe('parseNmapXml', () => {
  it('reads a TCP connect scan: run facts, host and every port', async () => {
    const r = await parseNmapXml(fixture('tcp-connect.xml'));
    expect(r.version).toBe('7.93');
    expect(r.args).toBe('nmap -sT -Pn -n -p 9,22,8081 -oX - 127.0.0.5');
    expect(r.startedAt).toBe(1795385382);
    expect(r.finishedAt).toBe(1795385382);
    expect(r.elapsed).toBe(0.05);
    expect(r.exit).toBe('success');
    expect(r.summary).toMatch(/1 IP address \(1 host up\)/);
    expect(r.stats).toEqual({ hostsUp: 1, hostsDown: 0, hostsTotal: 1 });
    expect(r.hosts).toHaveLength(1);
    const [host] = r.hosts;
    expect(host).toMatchObject({
      address: '127.0.0.5',
      addressType: 'ipv4',
      hostnames: [],
      state: 'up',
      reason: 'user-set',
      startedAt: 1795385382,
      endedAt: 1795385382,
    });
    expect(host.ports.map((p) => [portKey(p), p.state, p.reason])).toEqual([
      ['tcp/9', 'closed', 'conn-refused'],
      ['tcp/22', 'closed', 'conn-refused'],
      ['tcp/8081', 'open', 'syn-ack'],
    ]);
    expect(host.ports[2].service).toEqual({ name: 'blackice-icecap', method: 'table', conf: 3, cpe: [] });
    expect(r.openPorts).toBe(1);
    expect(summarizeResult(r)).toEqual({ hosts_up: 1, open_ports: 1 });
  });

  it('reads service detection fields from -sV', async () => {
    const r = await parseNmapXml(fixture('service-version.xml'));
    const port = r.hosts[0].ports[0];
    expect(portKey(port)).toBe('tcp/8081');
    expect(port.state).toBe('open');
    expect(port.service).toEqual({
      name: 'http',
      product: 'SimpleHTTPServer',
      version: '0.6',
      extrainfo: 'Python 3.11.7',
      method: 'probed',
      conf: 10,
      cpe: ['cpe:/a:python:simplehttpserver:0.6'],
      tunnel: undefined,
    });
  });

  it('keeps tcp/53 and udp/53 apart', async () => {
    const r = await parseNmapXml(fixture('tcp-udp.xml'));
    const ports = r.hosts[0].ports;
    expect(ports.map((p) => [portKey(p), p.state])).toEqual([
      ['tcp/53', 'open'],
      ['udp/53', 'open'],
      ['udp/54', 'closed'],
    ]);
    expect(new Set(ports.map(portKey)).size).toBe(3);
    expect(r.openPorts).toBe(2);
  });

  it('ignores <hosthint>: one host, not two', async () => {
    const xml = fixture('hosthint.xml');
    expect(xml).toContain('<hosthint>');
    const r = await parseNmapXml(xml);
    expect(r.hosts).toHaveLength(1);
    expect(r.hosts[0]).toMatchObject({ address: '127.0.0.5', reason: 'conn-refused' });
    expect(summarizeResult(r)).toEqual({ hosts_up: 1, open_ports: 1 });
  });

  it('reads a run with no hosts', async () => {
    const r = await parseNmapXml(fixture('empty-run.xml'));
    expect(r.hosts).toEqual([]);
    expect(r.stats).toEqual({ hostsUp: 0, hostsDown: 0, hostsTotal: 0 });
    expect(r.openPorts).toBe(0);
    expect(summarizeResult(r)).toEqual({ hosts_up: 0, open_ports: 0 });
  });

  it('reads IPv6 hosts', async () => {
    const r = await parseNmapXml(fixture('ipv6.xml'));
    expect(r.hosts[0]).toMatchObject({ address: '::1', addressType: 'ipv6' });
    expect(r.hosts[0].ports.map((p) => [portKey(p), p.state])).toEqual([
      ['tcp/8082', 'open'],
      ['tcp/8083', 'closed'],
    ]);
  });

  it('reads OS matches', async () => {
    const r = await parseNmapXml(fixture('os-detect.xml'));
    const os = r.hosts[0].os ?? [];
    expect(os.length).toBeGreaterThan(0);
    expect(os[0]).toEqual({ name: 'Linux 5.0 - 5.2', accuracy: 96 });
  });

  it('keeps each host name once, with the type nmap gave it first (issue 8, B.8)', async () => {
    // nmap 7.93 given "localhost" reports the name twice: as given (user) and from reverse DNS (PTR).
    const r = await parseNmapXml(
      `<?xml version="1.0"?><nmaprun version="7.93"><host><status state="up"/>` +
        `<address addr="127.0.0.1" addrtype="ipv4"/><hostnames><hostname name="localhost" type="user"/>` +
        `<hostname name="localhost" type="PTR"/><hostname name="lo.test" type="PTR"/></hostnames></host>` +
        `<runstats><finished time="5" exit="success"/></runstats></nmaprun>`,
    );
    expect(r.hosts[0].hostnames).toEqual([
      { name: 'localhost', type: 'user' },
      { name: 'lo.test', type: 'PTR' },
    ]);
  });

  it('adds the names the user gave for an address as type "user", ahead of the PTR name, each once', () => {
    const host = (address: string, hostnames: NmapHostname[]): NmapHost => ({
      address,
      addressType: 'ipv4',
      hostnames,
      state: 'up',
      ports: [],
    });
    const hosts = [host('127.0.0.1', [{ name: 'localhost', type: 'PTR' }]), host('127.0.0.5', [])];
    expect(withUserHostnames(hosts, { '127.0.0.1': ['localhost', 'lo'] }).map((h) => h.hostnames)).toEqual([
      [
        { name: 'localhost', type: 'user' },
        { name: 'lo', type: 'user' },
      ],
      [],
    ]);
    expect(withUserHostnames(hosts, {})).toEqual(hosts);
  });

  it('reads host names, MAC addresses and error runs from odd-but-valid XML', async () => {
    const r = await parseNmapXml(
      `<?xml version="1.0"?><nmaprun version="7.93"><host><status state="up"/>` +
        `<address addr="127.0.0.9" addrtype="ipv4"/><address addr="00:00:5E:00:53:01" addrtype="mac" vendor="x"/>` +
        `<hostnames><hostname name="localhost" type="user"/><hostname name="lo.test" type="PTR"/></hostnames>` +
        `<ports><port protocol="tcp" portid="22"><state state="open"/></port>` +
        `<port protocol="weird" portid="1"><state state="open"/></port><port protocol="tcp"/></ports></host>` +
        `<host><status state="down"/></host>` +
        `<runstats><finished time="5" exit="error" errormsg="boom"/></runstats></nmaprun>`,
    );
    expect(r.hosts).toEqual([
      {
        address: '127.0.0.9',
        addressType: 'ipv4',
        mac: '00:00:5E:00:53:01',
        hostnames: [
          { name: 'localhost', type: 'user' },
          { name: 'lo.test', type: 'PTR' },
        ],
        state: 'up',
        reason: undefined,
        ports: [{ protocol: 'tcp', port: 22, state: 'open', reason: undefined, service: undefined }],
        os: undefined,
        startedAt: undefined,
        endedAt: undefined,
      },
    ]);
    expect(r).toMatchObject({ exit: 'error', errorMessage: 'boom', finishedAt: 5 });
    // No <hosts> counts: computed from the hosts that were read.
    expect(r.stats).toEqual({ hostsUp: 1, hostsDown: 0, hostsTotal: 1 });
  });

  it('accepts a bare <nmaprun/>', async () => {
    const r = await parseNmapXml('<nmaprun></nmaprun>');
    expect(r.hosts).toEqual([]);
    expect(r.openPorts).toBe(0);
  });

  it.each(['', '   \n'])('refuses empty output %j as "empty"', async (xml) => {
    expect((await xmlError(xml)).reason).toBe('empty');
  });

  it('refuses a run cut mid-host as "truncated"', async () => {
    const xml = fixture('truncated.xml');
    expect(fixture('tcp-connect.xml').startsWith(xml)).toBe(true);
    expect((await xmlError(xml)).reason).toBe('truncated');
  });

  it.each([
    'garbage',
    '<html><body>nope</body></html>',
    '<nmaprun><host></nmaprun>',
    '<?xml version="1.0"?><nmaprun><host><address addr="1" </host></nmaprun>',
  ])('refuses %j as "malformed"', async (xml) => {
    const err = await xmlError(xml);
    expect(err.reason).toBe('malformed');
    expect(err.message).toMatch(/^nmap XML output is malformed/);
  });

  describe('addresses and times as the database stores them (issue 17)', () => {
    const run = (hosts: string, attrs = 'start="100"', finished = '<finished time="105" elapsed="5"/>') =>
      `<?xml version="1.0"?><nmaprun version="7.93" ${attrs}>${hosts}<runstats>${finished}</runstats></nmaprun>`;
    const host = (addr: string, type: string, ports = '', state = 'up') =>
      `<host><status state="${state}"/><address addr="${addr}" addrtype="${type}"/>` +
      `<ports>${ports}</ports></host>`;
    const port = (n: number, state = 'open') =>
      `<port protocol="tcp" portid="${n}"><state state="${state}"/></port>`;

    it.each([
      ['::ffff:127.0.0.5', 'ipv6', '127.0.0.5', 'ipv4'],
      ['::FFFF:127.0.0.7', 'ipv6', '127.0.0.7', 'ipv4'],
      ['0:0:0:0:0:0:0:1', 'ipv6', '::1', 'ipv6'],
      ['FE80:0:0:0:0:0:0:1', 'ipv6', 'fe80::1', 'ipv6'],
      ['127.0.0.5', 'ipv4', '127.0.0.5', 'ipv4'],
    ])('writes %s (%s) as %s (%s)', async (written, type, address, addressType) => {
      const r = await parseNmapXml(run(host(written, type)));
      expect(r.hosts.map((h) => [h.address, h.addressType])).toEqual([[address, addressType]]);
    });

    it('makes one host of <host> entries of one address, however spelled: up wins, ports are joined', async () => {
      const r = await parseNmapXml(
        run(
          host('127.0.0.5', 'ipv4', port(22, 'closed'), 'down') +
            host('::ffff:127.0.0.5', 'ipv6', port(22) + port(80), 'up') +
            host('127.0.0.6', 'ipv4'),
        ),
      );
      expect(r.hosts.map((h) => h.address)).toEqual(['127.0.0.5', '127.0.0.6']);
      expect(r.hosts[0].state).toBe('up');
      expect(r.hosts[0].ports.map((p) => [p.port, p.state])).toEqual([
        [22, 'closed'],
        [80, 'open'],
      ]);
      expect(r.stats.hostsTotal).toBe(2);
    });

    it.each([
      [run(host('127.0.0.1', 'ipv4'), 'start="abc"'), /<nmaprun start>="abc" is not a time/],
      [run(host('127.0.0.1', 'ipv4'), 'start="1e20"'), /<nmaprun start>="1e20" is not a time/],
      [run(host('127.0.0.1', 'ipv4'), 'start="-5"'), /<nmaprun start>="-5" is not a time/],
      [
        run(host('127.0.0.1', 'ipv4'), 'start="100"', '<finished time="99999999999999"/>'),
        /<finished time>="99999999999999" is not a time/,
      ],
      [run(host('127.0.0.1', 'ipv4'), 'start="100"', '<finished time="50"/>'), /is before <nmaprun start/],
      [run(host('localhost', 'ipv4')), /<address addr="localhost"> is not an IPv4 or IPv6 address/],
      [run(host('fe80::1%eth0', 'ipv6')), /is not an IPv4 or IPv6 address/],
      [run(host('127.0.0.1', 'ipv4', port(70000))), /<port portid="70000"> is outside 0-65535/],
    ])('refuses a file nothing can store as "malformed", naming the attribute (%#)', async (xml, message) => {
      const err = await xmlError(xml);
      expect(err.reason).toBe('malformed');
      expect(err.message).toMatch(message);
    });
  });
});

describe('parseNmapXml: <extraports>', () => {
  it('keeps the states of the ports nmap scanned and did not list', async () => {
    const r = await parseNmapXml(`<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -sS -p1-1000 127.0.0.5" start="1795385382" version="7.93">
<host><status state="up" reason="user-set"/><address addr="127.0.0.5" addrtype="ipv4"/>
<ports><extraports state="filtered" count="990"><extrareasons reason="no-response" count="990"/></extraports>
<extraports state="closed" count="9"><extrareasons reason="reset" count="9"/></extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/><service name="ssh" method="table" conf="3"/></port>
</ports></host>
<runstats><finished time="1795385383" elapsed="1.00" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>`);
    expect(r.hosts[0].extraPorts).toEqual([
      { state: 'filtered', count: 990 },
      { state: 'closed', count: 9 },
    ]);
    expect(r.hosts[0].ports.map(portKey)).toEqual(['tcp/22']);
  });

  it('says the ports of a host nmap gave up on (--host-timeout) are unknown, not unlisted because closed', async () => {
    // As nmap 7.93 wrote it for `-sT -Pn -p 1-65535 --host-timeout 50ms` against a loopback listener.
    const r = await parseNmapXml(`<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -sT -Pn -p 1-65535 --host-timeout 50ms 127.0.66.5" start="1796651265" version="7.93">
<scaninfo type="connect" protocol="tcp" numservices="65535" services="1-65535"/>
<host starttime="1796651265" endtime="1796651265" timedout="true"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="127.0.66.5" addrtype="ipv4"/>
<hostnames>
</hostnames>
<times srtt="34" rttvar="31" to="100000"/>
</host>
<runstats><finished time="1796651265" elapsed="0.07" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>`);
    expect(r.hosts[0]).toMatchObject({
      state: 'up',
      ports: [],
      extraPorts: [{ state: 'unknown', count: 0 }],
    });
  });

  it('leaves extraPorts out when nmap listed every port', async () => {
    const r = await parseNmapXml(fixture('tcp-connect.xml'));
    expect(r.hosts[0].extraPorts).toBeUndefined();
  });
});
