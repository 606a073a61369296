// Turns nmap's XML (-oX) into the normalised NmapScanResult. Only <host> elements are hosts: <hosthint> is
// nmap's early "this host is up" notice and would double-count. Every failure is an NmapXmlError.
// Addresses come out in canonical form (canonicalIpAddress), each once; times must be Unix times a database holds.
// parseNmapXml reads with the streaming parser (xml-stream.ts); parseNmapXmlWithXml2js is the earlier
// whole-document reader, kept as the reference the streaming one is tested and benchmarked against.
import { parseStringPromise } from 'xml2js';
import { NmapXmlError } from './errors';
import {
  countHost,
  distinctHostnames,
  firstLine,
  isNode,
  noHosts,
  oneHostPerAddress,
  runSummary,
  toHost,
  XmlNode,
} from './xml-host';
import { NmapXmlCollector } from './xml-stream';
import { NmapHost, NmapResultSummary, NmapScanResult } from './types';

export { MAX_UNIX_TIME, oneHostPerAddress, portKey } from './xml-host';

const WRITE_SLICE = 64 * 1024;

/**
 * Parses a whole nmap XML document. Throws NmapXmlError: `empty` (blank), `truncated` (an <nmaprun> never
 * closed: nmap killed or still running), `malformed` (not XML, not <nmaprun>, or an address, port or time
 * nothing can store; the message names it). The hosts of one address listed twice are merged into one.
 */
export async function parseNmapXml(xml: string): Promise<NmapScanResult> {
  checkWhole(xml);
  const collector = new NmapXmlCollector();
  // In slices: sax keeps its text buffers smaller and runs faster than over one 60 MB string.
  for (let i = 0; i < xml.length; i += WRITE_SLICE) collector.write(xml.slice(i, i + WRITE_SLICE));
  return collector.result();
}

/**
 * The same as parseNmapXml, through xml2js (the whole document as objects first): the reference implementation
 * for the streaming parser's tests and the `xml-parse` benchmark. Slower and several times the memory.
 */
export async function parseNmapXmlWithXml2js(xml: string): Promise<NmapScanResult> {
  checkWhole(xml);
  let doc: unknown;
  try {
    doc = await parseStringPromise(xml);
  } catch (err) {
    throw new NmapXmlError(`nmap XML output is malformed: ${firstLine(err)}`, 'malformed');
  }
  const rawRoot = isNode(doc) ? doc['nmaprun'] : undefined;
  // xml2js turns an element with neither attributes nor children into a string.
  const root = typeof rawRoot === 'string' ? {} : rawRoot;
  if (!isNode(root))
    throw new NmapXmlError('nmap XML output is malformed: the root is not <nmaprun>', 'malformed');
  try {
    return normalise(root);
  } catch (err) {
    throw new NmapXmlError(`nmap XML output is malformed: ${firstLine(err)}`, 'malformed');
  }
}

function checkWhole(xml: string): void {
  if (typeof xml !== 'string' || xml.trim() === '')
    throw new NmapXmlError('nmap XML output is empty', 'empty');
  // nmap writes </nmaprun> last; without it the run was cut short (killed, crashed or still running).
  if (xml.includes('<nmaprun') && !xml.includes('</nmaprun>')) {
    throw new NmapXmlError('nmap XML output is truncated (no closing </nmaprun>)', 'truncated');
  }
}

function normalise(root: XmlNode): NmapScanResult {
  const hosts = oneHostPerAddress(
    (Array.isArray(root['host']) ? root['host'] : [])
      .filter(isNode)
      .map(toHost)
      .filter((h): h is NmapHost => h !== undefined),
  );
  return { ...runSummary(root, hosts.reduce(countHost, noHosts())), hosts };
}

/**
 * Adds the host names the user gave (address → names, from the batch job) to the hosts at those addresses as
 * type "user", ahead of nmap's own names, each name once. nmap is handed addresses only, so it cannot know them.
 */
export function withUserHostnames(
  hosts: readonly NmapHost[],
  userNames: Record<string, string[]>,
): NmapHost[] {
  return hosts.map((host) => {
    const given = Object.prototype.hasOwnProperty.call(userNames, host.address)
      ? userNames[host.address]
      : [];
    if (given.length === 0) return host;
    const user = given.map((name) => ({ name, type: 'user' }));
    return { ...host, hostnames: distinctHostnames([...user, ...host.hostnames]) };
  });
}

/** The batch_complete summary of a result: hosts up (nmap's count) and open ports. */
export function summarizeResult(r: NmapScanResult): NmapResultSummary {
  return { hosts_up: r.stats.hostsUp, open_ports: r.openPorts };
}
