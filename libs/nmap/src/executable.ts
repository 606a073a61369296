// Where a program would be executed from, as execvp(3) finds it: checked before nmap is spawned, so that a
// missing or non-executable nmap is named as such.
import { accessSync, constants as fsConstants, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A regular file this process may execute. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The file `name` would be executed from: itself when it holds a slash, else the first match on PATH. Throws an
 * error with code `ENOENT` (no such file) or `EACCES` (found, not executable), as spawn would.
 */
export function findExecutable(name: string, env: NodeJS.ProcessEnv): string {
  const candidates = name.includes('/')
    ? [name]
    : (env.PATH ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => join(dir, name));
  const found = candidates.find(isExecutable);
  if (found) return found;
  const denied = candidates.some((path) => existsSync(path));
  const code = denied ? 'EACCES' : 'ENOENT';
  throw Object.assign(new Error(`spawn ${name} ${code}`), { code });
}
