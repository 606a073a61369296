// Pure checks and readings of an imported nmap XML file (POST /api/scans/{scan_id}/results/import).
import { split } from 'shlex';

const ENTITY_PROBLEM = 'entity declarations are refused';
const DOCTYPE_PROBLEM =
  'a DOCTYPE other than nmap’s own `<!DOCTYPE nmaprun>` is refused (no internal subset, SYSTEM or PUBLIC)';
/** Characters kept from one piece to the next: a `<!ENTITY` or `<!DOCTYPE` split between them is still seen. */
const CARRY = 8;
/** A DOCTYPE still open after this many characters is not nmap's (`<!DOCTYPE nmaprun>` is 18). */
const LONGEST_DOCTYPE = 4096;

/**
 * Why the XML's prolog is refused, or undefined. nmap writes `<!DOCTYPE nmaprun>` and nothing more; any other
 * DOCTYPE — an internal subset (`[ ... ]`, where entities are declared), SYSTEM or PUBLIC identifiers (external
 * references) — and any `<!ENTITY` are refused before a parser sees the text, so nothing is ever expanded or
 * fetched, whatever the parser would do. The whole text at once: XmlPrologGuard over one piece.
 */
export function xmlPrologProblem(xml: string): string | undefined {
  const guard = new XmlPrologGuard();
  return guard.check(xml) ?? guard.end();
}

/**
 * xmlPrologProblem over a document that arrives in pieces: `check` each piece before the parser sees it, `end`
 * after the last; each returns the problem (see xmlPrologProblem), or undefined. A `<!ENTITY` or `<!DOCTYPE …>`
 * split between pieces is seen; a DOCTYPE is refused as soon as it cannot be nmap's. Within one piece an entity
 * declaration is named before a DOCTYPE.
 */
export class XmlPrologGuard {
  private carry = '';
  private doctypes = 0;

  check(piece: string): string | undefined {
    const text = this.carry + piece;
    if (/<!ENTITY/i.test(text)) return ENTITY_PROBLEM;
    const doctype = /<!DOCTYPE[^>]*>?/gi;
    let keepFrom = Math.max(0, text.length - CARRY);
    for (let match = doctype.exec(text); match; match = doctype.exec(text)) {
      const written = match[0];
      if (!written.endsWith('>')) {
        // Open at the end of this piece: read on with the next one.
        if (written.length > LONGEST_DOCTYPE) return DOCTYPE_PROBLEM;
        keepFrom = match.index;
        break;
      }
      if (!/^<!DOCTYPE\s+nmaprun\s*>$/i.test(written)) return DOCTYPE_PROBLEM;
      if (++this.doctypes > 1) return 'more than one DOCTYPE';
      keepFrom = Math.max(keepFrom, match.index + written.length);
    }
    this.carry = text.slice(keepFrom);
    return undefined;
  }

  /** The document ended: a DOCTYPE left open is refused. */
  end(): string | undefined {
    return /<!DOCTYPE/i.test(this.carry) ? DOCTYPE_PROBLEM : undefined;
  }
}

/** Options whose value is the next word when not attached. */
const TAKES_VALUE = new Set(['-p', '--top-ports', '--exclude-ports', '--port-ratio', '-T', '--max-retries']);
/** Options that name files: dropped with their value (the run's options are what it scanned, not where it wrote). */
const FILE_OPTIONS = new Set(['-oX', '-oN', '-oG', '-oA', '-oS', '-oM', '-iL', '--stylesheet', '--datadir']);

/**
 * The nmap options of an imported run, from `<nmaprun args="...">`: the words after the program name, without
 * output and input file options, without the targets, with `-p 22` written `-p22` as the gateway stores it. Only
 * the options matter to the diff (ports, scan types, -sV: @nso/delta scanOptionsOf). Undefined when the file
 * has no args or they cannot be split.
 */
export function importedFlags(args: string | undefined): string[] | undefined {
  if (!args) return undefined;
  let words: string[];
  try {
    words = split(args);
  } catch {
    return undefined;
  }
  const flags: string[] = [];
  for (let i = 1; i < words.length; i++) {
    const word = words[i];
    if (FILE_OPTIONS.has(word)) {
      i++;
      continue;
    }
    if (!word.startsWith('-')) continue;
    if (TAKES_VALUE.has(word) && i + 1 < words.length) {
      const value = words[++i];
      flags.push(word.startsWith('--') ? `${word}=${value}` : `${word}${value}`);
      continue;
    }
    flags.push(word);
  }
  return flags;
}
