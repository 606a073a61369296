// Seed 003's `scan_arguments` is one string ("-T4 -sV"), as a user would type it after `nmap`. It is split into
// words the way a POSIX shell would split it (quotes and backslashes), by the shlex library, and never run
// through a shell: anything that would mean more than words to a shell is refused rather than taken literally.
import { join, split } from 'shlex';
import { NmapPolicyError } from './errors';

/** Characters that make shell syntax (lists, pipes, redirections, substitutions, sub-shells, globs, comments). */
const SHELL_SYNTAX = /[;&|<>$`()*?[\]{}#~!\\]/;

const NAMES: Record<string, string> = {
  ';': 'a command separator (;)',
  '&': 'a background or list operator (&)',
  '|': 'a pipe (|)',
  '<': 'a redirection (<)',
  '>': 'a redirection (>)',
  $: 'a variable or command substitution ($)',
  '`': 'a command substitution (`)',
  '(': 'a sub-shell (()',
  ')': 'a sub-shell ())',
  '#': 'a comment (#)',
};

/**
 * Splits `scan_arguments` into nmap's argv words: `-T4 -p "22,80"` → `["-T4", "-p", "22,80"]`.
 * Throws NmapPolicyError (a 400 naming the culprit) on an unterminated quote and on shell syntax — `;`, `&&`,
 * `|`, `<`, `>`, `$VAR`, `$(...)`, backticks, globs, `#` comments, `~`, `!`, backslash escapes — even inside
 * quotes, since no option on the allow-list takes such a character and a user who typed one meant a shell.
 * The words then go through NmapArgumentPolicy like `nmap_flags` do.
 */
export function splitScanArguments(text: string): string[] {
  const syntax = SHELL_SYNTAX.exec(text);
  if (syntax) {
    const what = NAMES[syntax[0]] ?? `shell syntax (${syntax[0]})`;
    throw new NmapPolicyError(
      `scan_arguments must be plain nmap options: ${what} is shell syntax, and no shell runs them`,
      syntax[0],
    );
  }
  try {
    return split(text);
  } catch (error) {
    throw new NmapPolicyError(`scan_arguments cannot be split into words: ${(error as Error).message}`, text);
  }
}

/**
 * Seed 003's `target`: "one or more targets separated by commas or spaces" → the target list scans/start takes
 * (`"127.0.0.1, 127.0.1.0/24 localhost"` → three targets). Empty pieces are dropped.
 */
export function splitTargetList(target: string): string[] {
  return target.split(/[\s,]+/).filter((piece) => piece.length > 0);
}

/**
 * The nmap options of a seed 003 definition: the `scan_arguments` words, then `-p <ports>` when `ports` is set.
 * A `-p` inside scan_arguments as well is left in, for NmapArgumentPolicy to refuse as nmap refuses two.
 */
export function definitionFlags(scanArguments: string[], ports: string | null | undefined): string[] {
  return ports ? [...scanArguments, '-p', ports] : [...scanArguments];
}

/** Words back to one `scan_arguments` string that splitScanArguments reads as the same words. */
export function joinScanArguments(words: string[]): string {
  return join(words);
}
