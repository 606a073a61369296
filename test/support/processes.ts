// Real gateway and worker processes from the build in dist/, for tests that cross process boundaries.
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
export const ENTRY = {
  gateway: join(ROOT, 'dist/apps/gateway/apps/gateway/src/main.js'),
  worker: join(ROOT, 'dist/apps/worker/apps/worker/src/main.js'),
  delta: join(ROOT, 'dist/apps/delta/apps/delta/src/main.js'),
};

export interface AppProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves once a line of output matches, rejects if the process exits first or the deadline passes. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  /** Another build of the app (the benchmarks run a copy of dist/). */
  entry?: string;
  /** Arguments for node itself, such as --cpu-prof. */
  nodeArgs?: string[];
}

/** Output kept per process: a long-running one keeps its most recent half when it passes this. */
const MAX_OUTPUT_CHARS = 4_000_000;

export function startProcess(
  kind: keyof typeof ENTRY,
  env: Record<string, string | undefined>,
  options: StartOptions = {},
): AppProcess {
  const entry = options.entry ?? ENTRY[kind];
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), entry], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    if (text.length > MAX_OUTPUT_CHARS) text = text.slice(-MAX_OUTPUT_CHARS / 2);
    for (const check of waiters) check();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForOutput = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const done = (fn: () => void) => {
        waiters.delete(check);
        clearTimeout(timer);
        fn();
      };
      const check = () => {
        const match = text.match(pattern);
        if (match) done(() => resolve(match));
      };
      const timer = setTimeout(
        () =>
          done(() => reject(new Error(`${kind}: no ${pattern} within ${timeoutMs} ms; output:\n${text}`))),
        timeoutMs,
      );
      waiters.add(check);
      void exited.then((code) =>
        done(() => reject(new Error(`${kind} exited with ${code} before ${pattern}; output:\n${text}`))),
      );
      check();
    });

  return {
    child,
    output: () => text,
    waitForOutput,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A TCP port on loopback that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
