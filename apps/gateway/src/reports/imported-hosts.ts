// The hosts of an imported nmap XML file, taken one at a time as the streaming parser hands them over: each is
// checked (scan scope, values the tables hold) as it comes and kept in pieces encoded as the rows they will be
// stored as (HostRows), so a /16's file is neither held as text nor as 65,536 objects and nothing is encoded
// twice. A piece may be handed over as soon as it is complete, to be stored while the rest is read (the import's
// parse thread, import-parse.ts); the file is refused or accepted only once read whole. They are handed over in
// address order, as a run's targets are scanned and listed. No Nest and no database here: this runs on the
// parse thread (import-parse.worker.ts), so it loads the parts of @nso/nmap and @nso/persistence it uses only.
import type { ScanScope } from '@nso/nmap/scope';
import { compareIpValues, parseIpAddress, parseIPv4, type IpValue } from '@nso/nmap/ip-address';
import type { NmapHost } from '@nso/nmap/types';
import { oneHostPerAddress } from '@nso/nmap/xml-host';
import {
  HostRows,
  HostRowsBuilder,
  ResultValueError,
  resultValueProblems,
  type EncodedHost,
} from '@nso/persistence/rows';

/** Hosts per piece (rows kept as JSON text until stored; the pieces are read one at a time while storing). */
export const IMPORT_PIECE_HOSTS = 4096;
/** Addresses and problems named in an error's `details` at most. */
const NAMED = 100;
/** What a piece handed over is replaced with, so that it can be collected. */
const EMPTY = HostRows.of([]);

/**
 * Why an imported file is refused (ImportedHosts.refusal, ImportParse): the gateway answers 400 with it. `scope`:
 * addresses outside the scan scope (ScopeError's message and its outOfScope); `values`: values no column holds
 * (the error and the problems named in `details`); `xml`: malformed or truncated XML (NmapXmlError's message).
 */
export type ImportRefusal =
  | { kind: 'scope'; message: string; addresses: string[] }
  | { kind: 'values'; error: string; details: string[] }
  | { kind: 'xml'; error: string };

/**
 * Collects an imported file's hosts (`add` each, in file order), then refuses the file or hands the hosts over
 * in pieces. As the whole-document import did: a MAC-only host is left out; an address listed twice is one host
 * (oneHostPerAddress: `up` wins, ports and names joined); the file is refused when any address is outside the scan
 * scope (ScopeError, the first 100 named) or any value cannot be stored (400, resultValueProblems, the first 100
 * named). Values are checked on every entry of an address as it comes. Once the file is refused nothing more
 * is kept. The hosts and targets come out in address order (IPv4 before IPv6, numerically: compareIpValues), as
 * an API run's targets are cut and scanned: a file already in that order (nmap lists its targets in the order it
 * was given them) is handed over as it was read, with one comparison a host; another (`--randomize-hosts`,
 * targets given out of order) is put in order once read, its hosts moved as their rows' text (sortedPieces).
 *
 * While the file is in that order and lists no address again in a piece already handed over (nmap's own files),
 * `handOver` gives each piece once it is complete, so that it can be stored while the rest is read. When the file
 * turns out otherwise, `startedOver` says so and `hostPieces` gives every piece again, in order and joined: what
 * was stored of the first ones must be dropped. The pieces are kept until `hostPieces` for that reason.
 */
export class ImportedHosts {
  /** Address → the piece it is in (the open piece: `pieces.length`). */
  private readonly seen = new Map<string, number>();
  private readonly pieces: HostRows[] = [];
  /** The open piece, written as rows as its hosts come. */
  private readonly open = new HostRowsBuilder();
  /** Later entries of an address already in a piece: joined when the piece is handed over. */
  private readonly later = new Map<string, NmapHost[]>();
  /** The pieces (by index; the open one's is `pieces.length`) with later entries of their addresses. */
  private readonly rejoin = new Set<number>();
  private outside = 0;
  private readonly outsideNamed: string[] = [];
  private problems = 0;
  private readonly problemsNamed: string[] = [];
  /** Every new address so far came after the one before (compareIpValues). */
  private ordered = true;
  /** The last new address, while `ordered` (`lastV4` when it is IPv4). */
  private last: IpValue | undefined;
  private lastV4: number | undefined;
  /** Pieces handed over by handOver: `pieces[0 .. handed)`. */
  private handed = 0;
  /** An address of a piece already handed over was listed again. */
  private repeatedHanded = false;

  constructor(private readonly scope: ScanScope) {}

  /** The file's addresses, each once, in address order (the run's targets). */
  get targets(): string[] {
    const addresses = [...this.seen.keys()];
    if (this.ordered) return addresses;
    return addresses
      .map((address) => ({ address, key: keyOf(address) }))
      .sort((a, b) => compareIpValues(a.key, b.key))
      .map((entry) => entry.address);
  }

  /** One host as the parser handed it over. */
  add(host: NmapHost): void {
    if (host.addressType === 'mac') return;
    const piece = this.seen.get(host.address);
    if (piece === undefined) {
      this.seen.set(host.address, this.pieces.length);
      if (this.ordered) this.follow(host.address);
      if (!this.scope.contains(host.address)) {
        this.outside++;
        if (this.outsideNamed.length < NAMED) this.outsideNamed.push(host.address);
      }
    }
    if (piece !== undefined || this.refused) {
      this.refuseFor(resultValueProblems([host]));
      if (this.refused || piece === undefined) return;
      // Joined with the entry before when its piece is handed over (rare: an address listed twice).
      const entries = this.later.get(host.address);
      if (entries) entries.push(host);
      else this.later.set(host.address, [host]);
      this.rejoin.add(piece);
      if (piece < this.handed) this.repeatedHanded = true;
      return;
    }
    try {
      this.open.add(host);
    } catch (error) {
      if (!(error instanceof ResultValueError)) throw error;
      this.refuseFor(error.problems);
      return;
    }
    if (this.open.count >= IMPORT_PIECE_HOSTS) this.pieces.push(this.open.build());
  }

  /**
   * What refuses the file, if anything: the scope first (the first 100 addresses named), then the values (the
   * first 100 problems named).
   */
  refusal(): ImportRefusal | undefined {
    if (this.outside > 0) {
      return {
        kind: 'scope',
        message: `${this.outside} address(es) of the file are outside the scan scope`,
        addresses: this.outsideNamed,
      };
    }
    if (this.problems > 0) {
      return {
        kind: 'values',
        error: `nmap XML refused: ${this.problemsNamed[0]}${this.problems > 1 ? ` (and ${this.problems - 1} more)` : ''}`,
        details: this.problemsNamed,
      };
    }
    return undefined;
  }

  /**
   * The pieces completed since the last call, each joined with the later entries of its addresses, while the
   * file is still read: only as long as it is in address order, lists no address again in a piece handed over
   * and is not refused (none otherwise). The pieces stay kept (see the class).
   */
  handOver(): HostRows[] {
    if (!this.ordered || this.repeatedHanded || this.refused) return [];
    const complete: HostRows[] = [];
    for (; this.handed < this.pieces.length; this.handed++) complete.push(this.joinedPiece(this.handed));
    return complete;
  }

  /** Pieces were handed over, and the file turned out out of order or listed one of their addresses again. */
  get startedOver(): boolean {
    return this.handed > 0 && (!this.ordered || this.repeatedHanded);
  }

  /**
   * The hosts, one per address, in address order, in pieces of at most IMPORT_PIECE_HOSTS (each handed over once
   * and then dropped): those not handed over yet, or every piece after a start-over. A piece with later entries
   * of its addresses is decoded, joined with them and encoded again. For a file that was not refused, read whole.
   */
  *hostPieces(): Generator<HostRows> {
    if (this.open.count > 0) this.pieces.push(this.open.build());
    const from = this.startedOver ? 0 : this.handed;
    yield* this.ordered ? this.filePieces(from) : this.sortedPieces();
  }

  /** The pieces from `from` as the file's hosts came, each joined with later entries of its addresses. */
  private *filePieces(from = 0): Generator<HostRows> {
    for (let i = from; i < this.pieces.length; i++) {
      const piece = this.joinedPiece(i);
      this.pieces[i] = EMPTY;
      yield piece;
    }
  }

  /** Piece `i`, joined with later entries of its addresses. */
  private joinedPiece(i: number): HostRows {
    const piece = this.pieces[i];
    // The decoded hosts carry the fields the tables store, which is all oneHostPerAddress reads.
    return this.rejoin.has(i)
      ? HostRows.of(piece.hosts().map((host) => this.joined(host as NmapHost)))
      : piece;
  }

  /**
   * The hosts of a file out of address order, put in order: every piece is read into its hosts' rows as text
   * (HostRows.encodedHosts) and dropped, the hosts are sorted by address and written into pieces again, each host
   * let go once written. Held meanwhile: the rows' text (about the pieces' size) and an entry a host.
   */
  private *sortedPieces(): Generator<HostRows> {
    const hosts: Array<{ key: IpValue; host: EncodedHost } | undefined> = [];
    for (const piece of this.filePieces()) {
      for (const host of piece.encodedHosts()) hosts.push({ key: keyOf(host.address), host });
    }
    hosts.sort((a, b) => compareIpValues(a!.key, b!.key));
    const builder = new HostRowsBuilder();
    for (let i = 0; i < hosts.length; i++) {
      builder.addEncoded(hosts[i]!.host);
      hosts[i] = undefined;
      if (builder.count >= IMPORT_PIECE_HOSTS) yield builder.build();
    }
    if (builder.count > 0) yield builder.build();
  }

  /**
   * Notes a new address: the file is out of order when it comes before the last one. IPv4 addresses are compared
   * as numbers (no bigint made for each host of a large file).
   */
  private follow(address: string): void {
    const v4 = parseIPv4(address);
    if (v4 !== undefined && this.lastV4 !== undefined) {
      if (v4 < this.lastV4) this.ordered = false;
      this.lastV4 = v4;
      return;
    }
    const key = keyOf(address);
    const last = this.lastV4 !== undefined ? { family: 4 as const, value: BigInt(this.lastV4) } : this.last;
    if (last !== undefined && compareIpValues(last, key) > 0) {
      this.ordered = false;
      return;
    }
    this.last = key;
    this.lastV4 = v4;
  }

  private get refused(): boolean {
    return this.outside > 0 || this.problems > 0;
  }

  private refuseFor(problems: readonly string[]): void {
    if (problems.length === 0) return;
    this.problems += problems.length;
    this.problemsNamed.push(...problems.slice(0, NAMED - this.problemsNamed.length));
  }

  private joined(host: NmapHost): NmapHost {
    const entries = this.later.get(host.address);
    return entries ? oneHostPerAddress([host, ...entries])[0] : host;
  }
}

/** An address's place in address order; the parser hands over IP addresses only (NmapXmlError otherwise). */
function keyOf(address: string): IpValue {
  return parseIpAddress(address) ?? { family: 6, value: -1n };
}
