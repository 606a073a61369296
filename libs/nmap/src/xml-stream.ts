// nmap XML (-oX) read as a stream: each <host> is handed over as an NmapHost as soon as its element closes and then
// dropped, so memory stays that of one host however large the run. Built on saxes (a strict, conforming XML 1.0
// tokenizer: well-formedness errors are errors; twice as fast as sax, xml2js's tokenizer, on a /16's file, see
// docs/performance.md), with the same mapping as the whole-document parser (xml-host.ts), so both give the same hosts.
// nmap's progress reports (<taskprogress>, <taskbegin>, <taskend>) come out as they are read.
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { NmapXmlError } from './errors';
import {
  NmapTaskBoundary,
  NmapTaskProgress,
  taskBoundaryFromAttributes,
  taskProgressFromAttributes,
} from './progress';
import {
  countHost,
  firstLine,
  HostCounts,
  noHosts,
  oneHostPerAddress,
  runSummary,
  toHost,
  unixTime,
  XmlNode,
} from './xml-host';
import { NmapHost, NmapRunSummary, NmapScanResult } from './types';

/** A start tag as saxes hands it over (xmlns off: attributes are name → value). */
type SaxTag = SaxesTagPlain;

/** `<nmaprun>` as it opens: the run's arguments, version and start (Unix seconds). */
export interface NmapRunStart {
  args?: string;
  version?: string;
  startedAt?: number;
}

/** `<scaninfo>`: one per scan type and protocol (e.g. connect/tcp over "1-1000", 1000 services). */
export interface NmapScanInfo {
  type?: string;
  protocol?: string;
  /** How many ports of this protocol each host is scanned on. */
  numservices?: number;
  /** nmap's port list, e.g. "22,80,8000-8100". */
  services?: string;
}

/** What NmapXmlStreamParser calls as it reads; every handler is optional and called synchronously. */
export interface NmapXmlStreamHandlers {
  /** Each <host> with an address, in document order. An address nmap lists twice comes twice. */
  onHost?(host: NmapHost): void;
  onRunStart?(run: NmapRunStart): void;
  onScanInfo?(info: NmapScanInfo): void;
  /** Each `<taskprogress>` (nmap writes them with --stats-every, as the run goes). */
  onProgress?(progress: NmapTaskProgress): void;
  /** `<taskbegin>` / `<taskend>` (nmap writes them with -v). */
  onTask?(task: NmapTaskBoundary): void;
}

/** Elements read below each kept element; anything else is skipped without building it. */
const KEPT: Readonly<Record<string, ReadonlySet<string>>> = {
  host: new Set(['address', 'status', 'hostnames', 'ports', 'os']),
  hostnames: new Set(['hostname']),
  ports: new Set(['port', 'extraports']),
  port: new Set(['state', 'service']),
  service: new Set(['cpe']),
  os: new Set(['osmatch']),
  runstats: new Set(['finished', 'hosts']),
};
const NOTHING: ReadonlySet<string> = new Set();
/** Elements whose text is read (only <cpe> carries data as text). */
const TEXT_OF = 'cpe';

/** An element being built: its xml2js-shaped node, the children it keeps, its text when wanted. */
interface Frame {
  name: string;
  node: XmlNode;
  keep: ReadonlySet<string>;
  text: string;
}

/**
 * A push parser of nmap's XML: `write(chunk)` as the bytes arrive (Buffer chunks may split a UTF-8 character),
 * `end()` once they stop. Hosts and progress reports go to the handlers during `write`; `end` returns the run's
 * facts (args, times, nmap's verdict, host counts). Holds one host at a time, never the document.
 *
 * Errors are NmapXmlError, as from parseNmapXml: `malformed` (not XML, not <nmaprun>, or a value nothing can
 * store: the message names the attribute) from `write` or `end`; `empty` (nothing but whitespace) and
 * `truncated` (no closing </nmaprun>: nmap was killed or is still running) from `end`. An error thrown by a
 * handler propagates unchanged. After any error the parser refuses further input with the same error.
 */
export class NmapXmlStreamParser {
  private readonly tokenizer: SaxesParser;
  private readonly decoder = new StringDecoder('utf8');
  private readonly stack: Frame[] = [];
  /** Depth inside an element being skipped (0: not skipping). */
  private skipping = 0;
  private root?: XmlNode;
  private rootClosed = false;
  private sawInput = false;
  private failure?: unknown;
  private ended = false;
  private readonly counts: HostCounts = noHosts();
  private readonly onText: (text: string) => void;

  constructor(private readonly handlers: NmapXmlStreamHandlers = {}) {
    // position: false: line and column tracking costs time, and messages keep one line.
    this.tokenizer = new SaxesParser({ position: false });
    this.tokenizer.on('opentag', (tag) => this.open(tag));
    this.tokenizer.on('closetag', () => this.close());
    // Text is wanted inside <cpe> only: the handler is set while one is open (push, close), so saxes neither
    // slices nor hands over the whitespace between all the other elements (it still checks it).
    // Set and unset once here, so that the tokenizer's shape does not change mid-document (which makes V8
    // throw away its optimized code).
    this.onText = (text) => this.text(text);
    this.tokenizer.on('text', this.onText);
    this.tokenizer.off('text');
    this.tokenizer.on('cdata', this.onText);
    this.tokenizer.on('error', (error) => {
      // Like xml2js, which has its result once the root closes: what follows </nmaprun> is not read.
      if (this.rootClosed) return;
      throw new NmapXmlError(`nmap XML output is malformed: ${firstLine(error)}`, 'malformed');
    });
  }

  /** Hosts handed to onHost so far. */
  get hostCount(): number {
    return this.counts.total;
  }

  /** Reads the next piece of the document. */
  write(chunk: string | Buffer): void {
    let text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (!this.sawInput) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.trim() === '') return;
      this.sawInput = true;
    }
    this.feed(text);
  }

  /**
   * Ends the document and returns the run's facts; `stats` falls back to counts over the hosts handed to
   * onHost when nmap wrote none. Throws NmapXmlError (see the class).
   */
  end(): NmapRunSummary {
    return this.summarize(undefined);
  }

  /**
   * As `end()`, with the host counts and open ports taken from `hosts` instead (for a caller that merged the
   * hosts of one address listed twice, as parseNmapXml does).
   */
  endWith(hosts: readonly NmapHost[]): NmapRunSummary {
    return this.summarize(hosts);
  }

  private summarize(hosts: readonly NmapHost[] | undefined): NmapRunSummary {
    if (!this.ended) {
      this.ended = true;
      const rest = this.decoder.end();
      if (rest) this.write(rest);
      this.check();
      if (!this.sawInput) this.fail(new NmapXmlError('nmap XML output is empty', 'empty'));
      if (this.root && !this.rootClosed) {
        this.fail(new NmapXmlError('nmap XML output is truncated (no closing </nmaprun>)', 'truncated'));
      }
      this.guard(() => this.tokenizer.close());
    }
    this.check();
    const root = this.root;
    if (!root) throw new NmapXmlError('nmap XML output is malformed: the root is not <nmaprun>', 'malformed');
    const counts = hosts ? hosts.reduce(countHost, noHosts()) : this.counts;
    try {
      return runSummary(root, counts);
    } catch (err) {
      throw new NmapXmlError(`nmap XML output is malformed: ${firstLine(err)}`, 'malformed');
    }
  }

  private feed(text: string): void {
    this.check();
    this.guard(() => this.tokenizer.write(text));
  }

  /** Runs a tokenizer call; the first error (saxes', ours or a handler's) is kept and thrown again on any later call. */
  private guard(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): never {
    this.failure ??= err;
    throw this.failure;
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private open(tag: SaxTag): void {
    if (this.rootClosed) return;
    if (this.skipping > 0) {
      this.skipping++;
      return;
    }
    const parent = this.stack[this.stack.length - 1];
    if (parent) {
      if (!parent.keep.has(tag.name)) {
        this.skipping = 1;
        return;
      }
      this.push(tag);
      return;
    }
    if (!this.root) return this.openRoot(tag);
    this.openTopLevel(tag);
  }

  private openRoot(tag: SaxTag): void {
    if (tag.name !== 'nmaprun') {
      throw new NmapXmlError('nmap XML output is malformed: the root is not <nmaprun>', 'malformed');
    }
    this.root = { $: tag.attributes };
    const startedAt = this.malformedIfThrows(() => unixTime(this.root, 'start', '<nmaprun start>'));
    this.handlers.onRunStart?.({
      args: tag.attributes['args'],
      version: tag.attributes['version'],
      startedAt,
    });
  }

  /** A child of <nmaprun>: a host or the run stats are built; progress and scan info are handed over at once. */
  private openTopLevel(tag: SaxTag): void {
    switch (tag.name) {
      case 'host':
      case 'runstats':
        this.push(tag);
        return;
      case 'taskprogress': {
        const progress = taskProgressFromAttributes(tag.attributes);
        if (progress) this.handlers.onProgress?.(progress);
        break;
      }
      case 'taskbegin':
      case 'taskend': {
        const task = taskBoundaryFromAttributes(tag.name === 'taskbegin' ? 'begin' : 'end', tag.attributes);
        if (task) this.handlers.onTask?.(task);
        break;
      }
      case 'scaninfo':
        this.handlers.onScanInfo?.(scanInfo(tag.attributes));
        break;
    }
    this.skipping = 1;
  }

  private push(tag: SaxTag): void {
    // Always with `$`, even when empty (counting a tag's attributes costs as much as reading them): an element
    // without attributes and children is then `{ $: {} }` where xml2js gives '' — the mapping (xml-host.ts)
    // reads both alike, as the specs comparing the two parsers check.
    const node: XmlNode = { $: tag.attributes };
    this.stack.push({ name: tag.name, node, keep: KEPT[tag.name] ?? NOTHING, text: '' });
    if (tag.name === TEXT_OF) this.tokenizer.on('text', this.onText);
  }

  private text(text: string): void {
    if (this.skipping > 0) return;
    const top = this.stack[this.stack.length - 1];
    if (top && top.name === TEXT_OF) top.text += text;
  }

  private close(): void {
    if (this.rootClosed) return;
    if (this.skipping > 0) {
      this.skipping--;
      return;
    }
    const frame = this.stack.pop();
    if (!frame) {
      this.rootClosed = true;
      return;
    }
    if (frame.name === TEXT_OF) this.tokenizer.off('text');
    const parent = this.stack[this.stack.length - 1];
    if (parent) {
      const list = (parent.node[frame.name] as unknown[] | undefined) ?? (parent.node[frame.name] = []);
      (list as unknown[]).push(value(frame));
      return;
    }
    // A child of <nmaprun>.
    if (frame.name === 'runstats') {
      const root = this.root as XmlNode;
      ((root['runstats'] as unknown[] | undefined) ?? (root['runstats'] = [])).push(value(frame));
      return;
    }
    const node = value(frame);
    const host = this.malformedIfThrows(() => toHost(node));
    if (!host) return;
    countHost(this.counts, host);
    this.handlers.onHost?.(host);
  }

  private malformedIfThrows<T>(read: () => T): T {
    try {
      return read();
    } catch (err) {
      throw new NmapXmlError(`nmap XML output is malformed: ${firstLine(err)}`, 'malformed');
    }
  }
}

/**
 * Collects a run's result from its XML as nmap writes it: hand `write` to the runner (`onXml: xml.write,
 * keepXml: false`), then `result()` once nmap has exited gives what parseNmapXml(run.xml) gave, without the
 * document ever held and with the parsing done while nmap runs. Progress reports and hosts also reach
 * `handlers` as they come. `result` throws NmapXmlError like parseNmapXml.
 */
export class NmapXmlCollector {
  private readonly hosts: NmapHost[] = [];
  private readonly parser: NmapXmlStreamParser;

  constructor(handlers: NmapXmlStreamHandlers = {}) {
    this.parser = new NmapXmlStreamParser({
      ...handlers,
      onHost: (host) => {
        this.hosts.push(host);
        handlers.onHost?.(host);
      },
    });
  }

  /** The next piece of the document (bound: can be passed as a callback). */
  readonly write = (chunk: string | Buffer): void => this.parser.write(chunk);

  /** The run's result, the hosts of one address listed twice merged into one. */
  result(): NmapScanResult {
    const hosts = oneHostPerAddress(this.hosts);
    return { ...this.parser.endWith(hosts), hosts };
  }
}

/**
 * Reads nmap XML from a stream (a file, a request body, a pipe) with an NmapXmlStreamParser; resolves with the
 * run's facts once the stream ends, rejects with the parser's NmapXmlError (or the stream's error).
 */
export async function parseNmapXmlStream(
  input: Readable,
  handlers: NmapXmlStreamHandlers = {},
): Promise<NmapRunSummary> {
  const parser = new NmapXmlStreamParser(handlers);
  for await (const chunk of input) parser.write(chunk as string | Buffer);
  return parser.end();
}

/** The element as an xml2js-shaped node: attributes under `$` (always), children, its text under `_` if any. */
function value(frame: Frame): XmlNode {
  const { node, text } = frame;
  if (text !== '' && text.trim() !== '') node._ = text;
  return node;
}

function scanInfo(attrs: Record<string, string>): NmapScanInfo {
  const count = Number(attrs['numservices']);
  return {
    type: attrs['type'],
    protocol: attrs['protocol'],
    numservices: attrs['numservices'] !== undefined && Number.isFinite(count) ? count : undefined,
    services: attrs['services'],
  };
}
