// nmap -oX output written from data, shaped like nmap 7.93's own (enough for our parser and Debian's ndiff):
// the import tests and the delta benchmark feed it files of any size without scanning anything.
import { readFileSync } from 'node:fs';

export interface XmlPort {
  protocol: string;
  port: number;
  state: string;
  service?: string;
  product?: string;
  version?: string;
}

export interface XmlHost {
  address: string;
  state: 'up' | 'down';
  ports: XmlPort[];
}

const escape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The lines of one file, produced lazily so a /16 can be written to disk without one huge string. */
export function* nmapXmlLines(args: string, hosts: Iterable<XmlHost>, start = 1795385382): Generator<string> {
  yield '<?xml version="1.0" encoding="UTF-8"?>';
  yield '<!DOCTYPE nmaprun>';
  yield `<nmaprun scanner="nmap" args="${escape(args)}" start="${start}" startstr="Sun Nov 22 22:09:42 2026" version="7.93" xmloutputversion="1.05">`;
  yield '<scaninfo type="connect" protocol="tcp" numservices="1" services="1-1000"/>';
  yield '<verbose level="0"/>';
  yield '<debugging level="0"/>';
  let up = 0;
  let down = 0;
  for (const host of hosts) {
    if (host.state === 'up') up++;
    else down++;
    yield `<host starttime="${start}" endtime="${start + 1}"><status state="${host.state}" reason="user-set" reason_ttl="0"/>`;
    yield `<address addr="${host.address}" addrtype="${host.address.includes(':') ? 'ipv6' : 'ipv4'}"/>`;
    yield '<hostnames>\n</hostnames>';
    if (host.ports.length > 0) {
      yield '<ports>';
      for (const p of host.ports) {
        // nmap writes no <service> for a port its services file does not name.
        const service = [
          p.service ? `name="${escape(p.service)}"` : '',
          p.product ? `product="${escape(p.product)}"` : '',
          p.version ? `version="${escape(p.version)}"` : '',
          p.product ? 'method="probed" conf="10"' : 'method="table" conf="3"',
        ]
          .filter(Boolean)
          .join(' ');
        const serviceElement = p.service ? `<service ${service}/>` : '';
        yield `<port protocol="${p.protocol}" portid="${p.port}"><state state="${p.state}" reason="syn-ack" reason_ttl="0"/>${serviceElement}</port>`;
      }
      yield '</ports>';
    }
    yield '<times srtt="100" rttvar="100" to="100000"/>';
    yield '</host>';
  }
  yield `<runstats><finished time="${start + 2}" timestr="Sun Nov 22 22:09:44 2026" summary="Nmap done" elapsed="2.00" exit="success"/><hosts up="${up}" down="${down}" total="${up + down}"/>`;
  yield '</runstats>';
  yield '</nmaprun>';
}

export function nmapXml(args: string, hosts: Iterable<XmlHost>, start?: number): string {
  return [...nmapXmlLines(args, hosts, start)].join('\n') + '\n';
}

let servicesTable: Map<string, string> | undefined;

/**
 * The name nmap gives protocol/port from its services file without -sV (`<service name=… method="table">`), or
 * undefined when the file names none: a written file then looks like a scan of the same port by this nmap.
 */
export function nmapServiceName(port: number, protocol = 'tcp'): string | undefined {
  if (!servicesTable) {
    servicesTable = new Map();
    const dataDir = process.env.NMAPDIR ?? '/usr/share/nmap';
    let text = '';
    try {
      text = readFileSync(`${dataDir}/nmap-services`, 'utf8');
    } catch {
      // No services file: nmap names no port either.
    }
    for (const line of text.split('\n')) {
      const [name, portProto] = line.split('\t');
      if (name && portProto && !name.startsWith('#')) servicesTable.set(portProto, name);
    }
  }
  return servicesTable.get(`${port}/${protocol}`);
}
