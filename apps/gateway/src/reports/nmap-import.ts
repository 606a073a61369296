// Pure checks and readings of an imported nmap XML file (POST /api/scans/{scan_id}/results/import).
import {
  NmapPolicyError,
  readNmapCommandLine,
  validateNmapFlags,
  type NmapCommandLineOption,
} from '@nso/nmap';
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

/**
 * The file's finish time as its last element says (`<finished time="…">` in nmap's `<runstats>`), read from the
 * end of its text before it is parsed to there: the time its hosts are dated with while it is stored. A guess
 * only: the parsed facts date them again when they differ (runTimes).
 */
export function finishTimeIn(tail: string): Date | undefined {
  const finished = /<finished\s[^>]*?\btime="(\d{1,12})"/.exec(tail.slice(tail.lastIndexOf('<runstats')));
  return finished ? new Date(Number(finished[1]) * 1000) : undefined;
}

/**
 * What of an option nmap ran the policy may let run: `-A` is `-O -sV -sC --traceroute` (nmap(1)), of which the
 * scripts are refused; scan types one by one, so `-sCV` keeps `-sV`.
 */
function runnableItems(option: NmapCommandLineOption): string[] {
  if (option.name === '-A') return ['-sV', '-O', '--traceroute'];
  if (option.name === '-s' && option.value) return [...option.value].map((letter) => `-s${letter}`);
  return [option.item];
}

/**
 * The nmap options of an imported run, from `<nmaprun args="...">` (split as a shell would: nmap quotes a word
 * with spaces), stored as an API-started run's are: what NmapArgumentPolicy accepts, in its normal form
 * (`--min-rate=5000`, `-p38480`, `-T4`, one `-sX` per scan type). The words are read as nmap read them
 * (readNmapCommandLine, the policy's own table of nmap's options), so every option keeps its value however it was
 * written (`--min-rate 5000`, `-p 22`, `-T4`, `--script-timeout=5s`). Options the policy refuses are left out with
 * their value (outputs and inputs such as -oX, -iL, --datadir; scripts; spoofing; `-T5`), as is an option that
 * conflicts with one kept before it (the first wins), so the list always passes the policy: a rescan of the run
 * can run it. `-A` keeps what of it may run (runnableItems); an item given twice is kept once. The targets are never options. Undefined when the
 * file has no args or they cannot be split.
 */
export function importedFlags(args: string | undefined): string[] | undefined {
  if (!args) return undefined;
  let words: string[];
  try {
    words = split(args);
  } catch {
    return undefined;
  }
  const kept: string[] = [];
  for (const option of readNmapCommandLine(words.slice(1)).options) {
    for (const item of runnableItems(option)) {
      if (kept.includes(item)) continue;
      try {
        validateNmapFlags([...kept, item]);
        kept.push(item);
      } catch (error) {
        if (!(error instanceof NmapPolicyError)) throw error;
      }
    }
  }
  return validateNmapFlags(kept);
}
