// Pure checks and readings of an imported nmap XML file (POST /api/scans/{scan_id}/results/import).
import { split } from 'shlex';

/** The largest file accepted: a /16 with -sV and a few ports a host stays far below it. */
export const MAX_IMPORT_BYTES = 50 * 1024 * 1024;

/**
 * Why the XML's prolog is refused, or undefined. nmap writes `<!DOCTYPE nmaprun>` and nothing more; any other
 * DOCTYPE — an internal subset (`[ ... ]`, where entities are declared), SYSTEM or PUBLIC identifiers (external
 * references) — and any `<!ENTITY` are refused before a parser sees the text, so nothing is ever expanded or
 * fetched, whatever the parser would do.
 */
export function xmlPrologProblem(xml: string): string | undefined {
  if (/<!ENTITY/i.test(xml)) return 'entity declarations are refused';
  const doctypes = xml.match(/<!DOCTYPE[^>]*>?/gi) ?? [];
  for (const doctype of doctypes) {
    if (!/^<!DOCTYPE\s+nmaprun\s*>$/i.test(doctype)) {
      return 'a DOCTYPE other than nmap’s own `<!DOCTYPE nmaprun>` is refused (no internal subset, SYSTEM or PUBLIC)';
    }
  }
  if (doctypes.length > 1) return 'more than one DOCTYPE';
  return undefined;
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
