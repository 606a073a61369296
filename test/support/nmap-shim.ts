// A stand-in for NMAP_PATH that shows what the real nmap is handed, and fails on demand: it prints its argv as
// the first stdout line ("nmap argv: ..."), exits 1 with a message on stderr when FAILING_TARGET is among its
// arguments (for the failure paths the argument policy no longer lets through), and otherwise execs the real
// nmap in place (same pid, same exit status).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A loopback address nmap is never actually run on: the shim fails instead. */
export const FAILING_TARGET = '127.0.13.66';
export const SHIM_FAILURE = 'nmap shim: simulated failure before scanning';

export interface NmapShim {
  path: string;
  remove(): void;
}

export function writeNmapShim(realNmap = '/usr/bin/nmap'): NmapShim {
  const dir = mkdtempSync(join(tmpdir(), 'nso-nmap-shim-'));
  const path = join(dir, 'nmap');
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      'echo "nmap argv: $*"',
      `for a in "$@"; do [ "$a" = "${FAILING_TARGET}" ] && { echo "${SHIM_FAILURE}" >&2; exit 1; }; done`,
      `exec ${realNmap} "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
