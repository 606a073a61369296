import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { NmapXmlError } from './errors';
import { parseNmapXml, parseNmapXmlWithXml2js } from './parser';
import { NmapTaskBoundary, NmapTaskProgress } from './progress';
import { NmapHost } from './types';
import {
  NmapRunStart,
  NmapScanInfo,
  NmapXmlCollector,
  NmapXmlStreamParser,
  parseNmapXmlStream,
} from './xml-stream';

const FIXTURES = join(__dirname, '..', 'test', 'fixtures');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
/** Every recorded nmap run that is a whole document (truncated.xml is the cut one). */
const WHOLE = readdirSync(FIXTURES).filter((f) => f.endsWith('.xml') && f !== 'truncated.xml');

/** A document with what the fixtures lack together: hostnames, MAC, os, service with cpe, extraports, down host. */
const MIXED = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -sV -O -p1-1000 127.0.0.5-7" start="1795385382" version="7.93">
<scaninfo type="syn" protocol="tcp" numservices="1000" services="1-1000"/>
<host starttime="1795385382" endtime="1795385383"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="127.0.0.5" addrtype="ipv4"/><address addr="00:00:5E:00:53:01" addrtype="mac" vendor="x"/>
<hostnames><hostname name="lo.test" type="PTR"/><hostname name="lo.test" type="user"/></hostnames>
<ports><extraports state="filtered" count="997"><extrareasons reason="no-response" count="997"/></extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/>
<service name="ssh" product="OpenSSH" version="9.2p1 Debian" extrainfo="protocol 2.0" method="probed" conf="10">
<cpe>cpe:/a:openbsd:openssh:9.2p1</cpe><cpe> cpe:/o:linux:linux_kernel </cpe><cpe></cpe></service>
<script id="ssh-hostkey" output="x"><elem key="k">v</elem></script></port>
<port protocol="tcp" portid="80"><state state="closed" reason="reset"/></port>
<port protocol="tcp" portid="443"><state state="filtered" reason="no-response"/><service name="https" tunnel="ssl" method="table" conf="3"/></port>
</ports>
<os><portused state="open" proto="tcp" portid="22"/><osmatch name="Linux 5.0 - 5.2" accuracy="96" line="1"><osclass type="general purpose"/></osmatch><osmatch name="Linux 4.15" accuracy="90"/></os>
<uptime seconds="100"/><times srtt="10" rttvar="5" to="100000"/>
</host>
<hosthint><status state="up"/><address addr="127.0.0.6" addrtype="ipv4"/></hosthint>
<host starttime="1795385382" endtime="1795385383"><status state="up" reason="conn-refused"/>
<address addr="127.0.0.6" addrtype="ipv4"/><hostnames>
</hostnames><ports><extraports state="closed" count="1000"><extrareasons reason="reset" count="1000"/></extraports></ports>
</host>
<host><status state="down" reason="no-response"/><address addr="127.0.0.7" addrtype="ipv4"/></host>
<runstats><finished time="1795385390" timestr="x" summary="Nmap done: 3 IP addresses (2 hosts up)" elapsed="8.00" exit="success"/><hosts up="2" down="1" total="3"/></runstats>
</nmaprun>
`;

/** Reads a document through the stream parser in pieces of `size` bytes (Buffers: UTF-8 may be split). */
function streamed(xml: string, size: number): { hosts: NmapHost[]; summary: unknown } {
  const hosts: NmapHost[] = [];
  const parser = new NmapXmlStreamParser({ onHost: (h) => hosts.push(h) });
  const bytes = Buffer.from(xml, 'utf8');
  for (let i = 0; i < bytes.length; i += size) parser.write(bytes.subarray(i, i + size));
  return { hosts, summary: parser.end() };
}

function thrown(read: () => unknown): NmapXmlError {
  try {
    read();
  } catch (err) {
    if (err instanceof NmapXmlError) return err;
    throw err;
  }
  throw new Error('expected an NmapXmlError');
}

describe('NmapXmlStreamParser: the same result as the xml2js reader', () => {
  it.each([...WHOLE, 'MIXED'])('%s: same hosts and run facts, whole or in pieces', async (name) => {
    const xml = name === 'MIXED' ? MIXED : fixture(name);
    const reference = await parseNmapXmlWithXml2js(xml);
    expect(await parseNmapXml(xml)).toEqual(reference);
    const { hosts: referenceHosts, ...facts } = reference;
    for (const size of [1, 7, 64, 4096]) {
      const { hosts, summary } = streamed(xml, size);
      expect(hosts).toEqual(referenceHosts);
      expect(summary).toEqual(facts);
    }
  });

  it('reads hosts with no open port, extraports, host names, MAC, os and service fields', () => {
    const { hosts } = streamed(MIXED, 4096);
    expect(hosts.map((h) => [h.address, h.state, h.ports.length, h.extraPorts])).toEqual([
      ['127.0.0.5', 'up', 3, [{ state: 'filtered', count: 997 }]],
      ['127.0.0.6', 'up', 0, [{ state: 'closed', count: 1000 }]],
      ['127.0.0.7', 'down', 0, undefined],
    ]);
    expect(hosts[0]).toMatchObject({
      mac: '00:00:5E:00:53:01',
      hostnames: [{ name: 'lo.test', type: 'PTR' }],
      os: [
        { name: 'Linux 5.0 - 5.2', accuracy: 96 },
        { name: 'Linux 4.15', accuracy: 90 },
      ],
    });
    expect(hosts[0].ports[0].service).toEqual({
      name: 'ssh',
      product: 'OpenSSH',
      version: '9.2p1 Debian',
      extrainfo: 'protocol 2.0',
      tunnel: undefined,
      method: 'probed',
      conf: 10,
      cpe: ['cpe:/a:openbsd:openssh:9.2p1', 'cpe:/o:linux:linux_kernel'],
    });
    expect(hosts[0].ports[2].service).toMatchObject({ name: 'https', tunnel: 'ssl' });
  });

  it('keeps a multi-byte character split between two Buffers', () => {
    const xml = MIXED.replace('lo.test" type="PTR"', 'ħøst-é.test" type="PTR"');
    const { hosts } = streamed(xml, 1);
    expect(hosts[0].hostnames[0].name).toBe('ħøst-é.test');
  });

  it('hands each host over when its element closes, before the document ends', () => {
    const seen: string[] = [];
    const parser = new NmapXmlStreamParser({ onHost: (h) => seen.push(h.address) });
    const cut = MIXED.indexOf('<hosthint>');
    parser.write(MIXED.slice(0, cut));
    expect(seen).toEqual(['127.0.0.5']);
    expect(parser.hostCount).toBe(1);
    parser.write(MIXED.slice(cut));
    expect(seen).toEqual(['127.0.0.5', '127.0.0.6', '127.0.0.7']);
    expect(parser.end().stats).toEqual({ hostsUp: 2, hostsDown: 1, hostsTotal: 3 });
  });

  it('gives the run start and the scan info as they come', () => {
    const runs: NmapRunStart[] = [];
    const infos: NmapScanInfo[] = [];
    const parser = new NmapXmlStreamParser({
      onRunStart: (r) => runs.push(r),
      onScanInfo: (i) => infos.push(i),
    });
    parser.write(MIXED.slice(0, MIXED.indexOf('<host ')));
    expect(runs).toEqual([
      { args: 'nmap -sV -O -p1-1000 127.0.0.5-7', version: '7.93', startedAt: 1795385382 },
    ]);
    expect(infos).toEqual([{ type: 'syn', protocol: 'tcp', numservices: 1000, services: '1-1000' }]);
  });

  it('reads a stream (Readable) to the end', async () => {
    const hosts: string[] = [];
    const summary = await parseNmapXmlStream(Readable.from([Buffer.from(MIXED)]), {
      onHost: (h) => hosts.push(h.address),
    });
    expect(hosts).toEqual(['127.0.0.5', '127.0.0.6', '127.0.0.7']);
    expect(summary).toMatchObject({ exit: 'success', finishedAt: 1795385390, openPorts: 1 });
  });
});

describe('NmapXmlCollector', () => {
  it('gives what parseNmapXml gives, from pieces, one host per address', async () => {
    // The same address twice (given twice to nmap): one host, up wins, ports joined, counted once.
    const twice = MIXED.replace('<address addr="127.0.0.7"', '<address addr="127.0.0.6"').replace(
      '<hosts up="2" down="1" total="3"/>',
      '',
    );
    for (const xml of [MIXED, twice, fixture('progress-connect.xml')]) {
      const progress: number[] = [];
      const collector = new NmapXmlCollector({ onProgress: (p) => progress.push(p.percent) });
      const bytes = Buffer.from(xml);
      for (let i = 0; i < bytes.length; i += 333) collector.write(bytes.subarray(i, i + 333));
      const result = collector.result();
      expect(result).toEqual(await parseNmapXml(xml));
      expect(result).toEqual(await parseNmapXmlWithXml2js(xml));
      if (xml === twice) expect(result.stats).toEqual({ hostsUp: 2, hostsDown: 0, hostsTotal: 2 });
      if (xml !== MIXED && xml !== twice) expect(progress.length).toBeGreaterThan(0);
    }
  });

  it('calls a run nmap did not finish "truncated"', () => {
    const collector = new NmapXmlCollector();
    collector.write(fixture('truncated.xml'));
    expect(thrown(() => collector.result()).reason).toBe('truncated');
  });
});

describe('NmapXmlStreamParser: errors', () => {
  const end = (xml: string) => () => {
    const parser = new NmapXmlStreamParser();
    parser.write(xml);
    return parser.end();
  };

  it.each(['', '  \n'])('calls %j "empty"', (xml) => {
    expect(thrown(end(xml)).reason).toBe('empty');
  });

  it('calls a document with no closing </nmaprun> "truncated" at the end, after the hosts it had', () => {
    const hosts: string[] = [];
    const parser = new NmapXmlStreamParser({ onHost: (h) => hosts.push(h.address) });
    parser.write(MIXED.slice(0, MIXED.indexOf('<runstats>')));
    expect(thrown(() => parser.end()).reason).toBe('truncated');
    expect(hosts).toEqual(['127.0.0.5', '127.0.0.6', '127.0.0.7']);
    expect(fixture('tcp-connect.xml').startsWith(fixture('truncated.xml'))).toBe(true);
    expect(thrown(end(fixture('truncated.xml'))).reason).toBe('truncated');
  });

  it.each([
    ['garbage', /malformed/],
    ['<html><body>nope</body></html>', /the root is not <nmaprun>/],
    ['<nmaprun><host></nmaprun>', /malformed/],
    ['<nmaprun start="abc"></nmaprun>', /<nmaprun start>="abc" is not a time/],
    ['<nmaprun><host><address addr="localhost" addrtype="ipv4"/></host></nmaprun>', /is not an IPv4/],
  ])('calls %j "malformed"', (xml, message) => {
    const err = thrown(end(xml));
    expect(err.reason).toBe('malformed');
    expect(err.message).toMatch(/^nmap XML output is malformed/);
    expect(err.message).toMatch(message);
  });

  it('refuses any input after an error, with the same error', () => {
    const parser = new NmapXmlStreamParser();
    const first = thrown(() => parser.write('<nmaprun><host></nmaprun>'));
    expect(thrown(() => parser.write('<host/>'))).toBe(first);
    expect(thrown(() => parser.end())).toBe(first);
  });

  it("lets a handler's own error through unchanged", () => {
    const boom = new Error('store failed');
    const parser = new NmapXmlStreamParser({
      onHost: () => {
        throw boom;
      },
    });
    expect(() => parser.write(MIXED)).toThrow(boom);
    expect(() => parser.end()).toThrow(boom);
  });
});

describe('NmapXmlStreamParser: progress of a real run (--stats-every 1s, recorded on loopback)', () => {
  function progressOf(name: string) {
    const progress: NmapTaskProgress[] = [];
    const tasks: NmapTaskBoundary[] = [];
    const order: string[] = [];
    const parser = new NmapXmlStreamParser({
      onProgress: (p) => progress.push(p) && order.push('progress'),
      onTask: (t) => tasks.push(t) && order.push(t.phase),
      onHost: () => order.push('host'),
    });
    const bytes = readFileSync(join(FIXTURES, name));
    for (let i = 0; i < bytes.length; i += 100) parser.write(bytes.subarray(i, i + 100));
    return { progress, tasks, order, summary: parser.end() };
  }

  it('gives each <taskprogress> as a typed report, in order, before the hosts (-v adds begin and end)', () => {
    const { progress, tasks, order } = progressOf('progress-connect.xml');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const p of progress) {
      expect(p.task).toBe('Connect Scan');
      expect(p.percent).toBeGreaterThan(0);
      expect(p.percent).toBeLessThan(100);
      expect(p.remaining).toBeGreaterThanOrEqual(0);
      expect(p.etc).toBeGreaterThanOrEqual(p.time as number);
    }
    const percents = progress.map((p) => p.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(tasks.map((t) => [t.phase, t.task])).toEqual([
      ['begin', 'Connect Scan'],
      ['end', 'Connect Scan'],
    ]);
    expect(tasks[1].extrainfo).toBe('30 total ports');
    expect(order).toEqual(['begin', ...progress.map(() => 'progress'), 'end', 'host', 'host', 'host']);
  });

  it('reads the exact reports of the quiet run, and its hosts with no open port', async () => {
    const { progress, tasks, summary } = progressOf('progress-quiet.xml');
    expect(tasks).toEqual([]);
    expect(progress[0]).toEqual({
      task: 'Connect Scan',
      time: 1796600469,
      percent: 20,
      remaining: 4,
      etc: 1796600473,
    });
    expect(progress.map((p) => p.percent)).toEqual([20, 40, 63.33, 86.67]);
    const result = await parseNmapXml(fixture('progress-quiet.xml'));
    expect(result.hosts.map((h) => [h.address, h.ports.map((p) => p.port), h.extraPorts])).toEqual([
      ['127.0.0.1', [], [{ state: 'closed', count: 30 }]],
      ['127.0.0.2', [8090], [{ state: 'closed', count: 29 }]],
      ['127.0.0.3', [], [{ state: 'closed', count: 30 }]],
    ]);
    expect(summary).toMatchObject({ stats: { hostsUp: 3, hostsDown: 0, hostsTotal: 3 }, openPorts: 1 });
  });
});

// Issue 20: the tokenizer is saxes (strict XML 1.0) instead of sax. What nmap can write must read the same in any
// cut of the bytes; what is not well-formed XML must be "malformed", never a host read from a broken document.
describe('NmapXmlStreamParser: the saxes tokenizer (issue 20)', () => {
  const ESCAPED = MIXED.replace(
    'product="OpenSSH"',
    'product="Open&amp;SSH &lt;&#x41;&#66;&gt; &quot;x&apos;"',
  )
    .replace('<cpe>cpe:/a:openbsd:openssh:9.2p1</cpe>', '<cpe><![CDATA[cpe:/a:openbsd:openssh:9.2p1]]></cpe>')
    .replace('<runstats>', '<!-- a comment <host> inside --><runstats>');

  it('reads entities, character references, CDATA and comments alike in any cut of the bytes', async () => {
    const reference = await parseNmapXmlWithXml2js(ESCAPED);
    expect(reference.hosts[0].ports[0].service).toMatchObject({
      product: 'Open&SSH <AB> "x\'',
      cpe: ['cpe:/a:openbsd:openssh:9.2p1', 'cpe:/o:linux:linux_kernel'],
    });
    for (const size of [1, 2, 3, 5, 11, 4096]) {
      const { hosts } = streamed(ESCAPED, size);
      expect(hosts).toEqual(reference.hosts);
    }
  });

  it('skips a byte order mark given as a piece of its own', () => {
    const parser = new NmapXmlStreamParser();
    parser.write(Buffer.from([0xef, 0xbb]));
    parser.write(Buffer.concat([Buffer.from([0xbf]), Buffer.from(MIXED)]));
    expect(parser.end().stats.hostsTotal).toBe(3);
  });

  it.each([
    ['a close tag that does not match', '<nmaprun><host></ports></host></nmaprun>'],
    ['an entity XML does not define', '<nmaprun args="a&nbsp;b"></nmaprun>'],
    ['an attribute given twice', '<nmaprun start="1" start="2"></nmaprun>'],
    ['an attribute value without quotes', '<nmaprun start=1></nmaprun>'],
    ['a "<" inside an attribute value', '<nmaprun args="a<b"></nmaprun>'],
    ['a NUL character', '<nmaprun args="a\u0000b"></nmaprun>'],
    ['text before the root', 'text<nmaprun/>'],
  ])('calls %s "malformed"', (_what, xml) => {
    const err = thrown(() => {
      const parser = new NmapXmlStreamParser();
      parser.write(xml);
      return parser.end();
    });
    expect(err.reason).toBe('malformed');
    expect(err.message).toMatch(/^nmap XML output is malformed: \S/);
  });

  it('stops at the broken element: no host after it is read, and the document is refused', () => {
    const hosts: string[] = [];
    const parser = new NmapXmlStreamParser({ onHost: (h) => hosts.push(h.address) });
    const broken = MIXED.replace(
      '<address addr="127.0.0.6" addrtype="ipv4"/><hostnames>',
      '<address addr="127.0.0.6" addrtype="ipv4"/></hostnames>',
    );
    expect(thrown(() => parser.write(broken)).reason).toBe('malformed');
    expect(hosts).not.toContain('127.0.0.7');
    expect(thrown(() => parser.end()).reason).toBe('malformed');
  });

  it('reads nothing after </nmaprun>, as xml2js does', () => {
    const { hosts } = streamed(
      MIXED + '<host><address addr="127.0.0.9" addrtype="ipv4"/></host> trailing',
      64,
    );
    expect(hosts.map((h) => h.address)).toEqual(['127.0.0.5', '127.0.0.6', '127.0.0.7']);
  });
});
