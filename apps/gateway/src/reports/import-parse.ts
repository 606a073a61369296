// The parse of an imported nmap XML file as the import's parse thread runs it (import-parse.worker.ts): the text
// in, as it was read; messages out (ImportParseMessage): the pieces of rows as they are complete, then the
// file's verdict. The gateway's main thread stores the pieces meanwhile (ImportParseThread, results-import.service.ts).
import { NmapXmlError } from '@nso/nmap/errors';
import type { ScanScope } from '@nso/nmap/scope';
import { NmapXmlStreamParser } from '@nso/nmap/xml-stream';
import type { HostRows } from '@nso/persistence/rows';
import { ImportedHosts, type ImportRefusal } from './imported-hosts';

/** What the file says of its run, once read whole and accepted (times in Unix seconds, as nmap writes them). */
export interface ParsedImportFacts {
  /** `<nmaprun args>`. */
  args?: string;
  startedAt?: number;
  finishedAt?: number;
  elapsed?: number;
  /** The addresses, each once, in address order (ImportedHosts.targets). */
  targets: string[];
}

/**
 * A message of the parse, in the order they come: `pieces` (HostRows, as structured clone leaves them: their
 * fields) to be stored in the order given; `start-over` (the pieces before must be dropped: every piece follows
 * again, in order); then one of `done` (the file is accepted: its facts), `refused` (ImportRefusal: a 400) or
 * `failed` (an unexpected error: a 500, its message kept for the log).
 */
export type ImportParseMessage =
  | { kind: 'pieces'; pieces: HostRows[] }
  | { kind: 'start-over' }
  | { kind: 'done'; facts: ParsedImportFacts }
  | { kind: 'refused'; refusal: ImportRefusal }
  | { kind: 'failed'; message: string };

/**
 * The streaming parser (NmapXmlStreamParser) and the hosts' checks and encoding (ImportedHosts) over the text of
 * one file: `write` each piece as read (after XmlPrologGuard checked it), `end` once. Pieces complete while the
 * file is read are posted at once (ImportedHosts.handOver: while it is in address order); `end` posts the rest
 * and the verdict. As the whole-file import did: after a parse error the rest is not parsed, and the file is
 * refused for it at the end; a parse error is named before the hosts' refusals (scope, then values). An error
 * other than NmapXmlError (a bug) is thrown from `write` or `end`.
 */
export class ImportParse {
  private readonly hosts: ImportedHosts;
  private readonly parser: NmapXmlStreamParser;
  private malformed: NmapXmlError | undefined;

  constructor(
    scope: ScanScope,
    private readonly post: (message: ImportParseMessage) => void,
  ) {
    this.hosts = new ImportedHosts(scope);
    this.parser = new NmapXmlStreamParser({ onHost: (host) => this.hosts.add(host) });
  }

  write(text: string): void {
    if (this.malformed) return;
    try {
      this.parser.write(text);
    } catch (error) {
      if (!(error instanceof NmapXmlError)) throw error;
      this.malformed = error;
      return;
    }
    const pieces = this.hosts.handOver();
    if (pieces.length > 0) this.post({ kind: 'pieces', pieces });
  }

  end(): void {
    let facts: ParsedImportFacts;
    try {
      if (this.malformed) throw this.malformed;
      const { args, startedAt, finishedAt, elapsed } = this.parser.end();
      facts = { args, startedAt, finishedAt, elapsed, targets: [] };
    } catch (error) {
      if (!(error instanceof NmapXmlError)) throw error;
      this.post({ kind: 'refused', refusal: { kind: 'xml', error: error.message } });
      return;
    }
    const refusal = this.hosts.refusal();
    if (refusal) {
      this.post({ kind: 'refused', refusal });
      return;
    }
    if (this.hosts.startedOver) this.post({ kind: 'start-over' });
    // One message a piece: the first is stored while the next is made.
    for (const piece of this.hosts.hostPieces()) this.post({ kind: 'pieces', pieces: [piece] });
    facts.targets = this.hosts.targets;
    this.post({ kind: 'done', facts });
  }
}
