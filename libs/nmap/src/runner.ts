// Runs one nmap process: no shell, a scrubbed environment, stdout streamed line by line, XML collected on a
// separate pipe, cancellation that takes down the whole process group, and a parent-death signal so that nmap
// does not outlive a worker that is killed outright. A plain class: the apps wrap it as
// a provider, and tests or services can substitute anything that implements NmapRunner.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync, promises as fsp, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SAFE_NMAP_ENV } from './argument-policy';
import { TargetError } from './errors';
import { findExecutable, isExecutable } from './executable';

export interface NmapRunOptions {
  nmapPath: string;
  /** Already validated by NmapArgumentPolicy; must not contain output options. */
  flags: string[];
  /** Individual targets (addresses or host names), already scope-checked. */
  targets: string[];
  signal?: AbortSignal;
  /** Called once per stdout line, in order, without the line break. */
  onLine?: (line: string) => void;
  /** Time between SIGTERM and SIGKILL on cancellation. Default 2000 ms. */
  killGraceMs?: number;
  /** Base environment (default process.env); NMAPDIR and NMAP_* are always removed. */
  env?: NodeJS.ProcessEnv;
  /** Cap on the stdout text kept in the result (lines still all reach onLine). Default 10 MB. */
  maxStdoutChars?: number;
  /**
   * Called with each piece of the -oX document as nmap writes it, in order (e.g. an NmapXmlStreamParser's
   * `write`, for hosts and `<taskprogress>` reports while nmap runs). Should it throw, it is not called again,
   * and the run, once nmap has exited, rejects with that error as it was thrown (an NmapXmlError stays one).
   */
  onXml?: (chunk: Buffer) => void;
  /**
   * Whether the result's `xml` holds the document. Default true; false keeps nothing (`xml` is ''), for a
   * caller that reads it through onXml: a /16 batch's XML is tens of megabytes.
   */
  keepXml?: boolean;
}

export interface NmapRunResult {
  exitCode: number | null;
  signal: string | null;
  /** Full stdout, capped at maxStdoutChars (see stdoutTruncated). */
  stdout: string;
  stdoutTruncated: boolean;
  stderr: string;
  /** The -oX document; may be truncated or empty when nmap was killed or failed early; '' with keepXml false. */
  xml: string;
  cancelled: boolean;
  durationMs: number;
  /** Process id, which is also the process-group id (nmap runs detached in its own group). */
  pid?: number;
}

export interface NmapRunner {
  run(opts: NmapRunOptions): Promise<NmapRunResult>;
}

/** nmap writes XML to this inherited descriptor; opened by path because nmap only takes file names for -oX. */
const XML_OUTPUT_FD = 3;
const XML_OUTPUT_PATH = `/dev/fd/${XML_OUTPUT_FD}`;
const DEFAULT_KILL_GRACE_MS = 2000;
const DEFAULT_MAX_STDOUT_CHARS = 10 * 1024 * 1024;
const MAX_STDERR_CHARS = 1024 * 1024;
/** After nmap exits, how long to wait for the XML pipe to drain before giving up on it. */
const XML_DRAIN_MS = 2000;

const execFileAsync = promisify(execFile);

/**
 * The argv nmap receives: our XML output first (so nothing in the flags can displace it), the flags, then "--"
 * so that no target can ever be read as an option. nmap scans one address family per run and silently skips
 * targets of the other, so "-6" is added when every target is IPv6, and mixing IPv4 and IPv6 is refused.
 */
export function buildNmapArgv(flags: readonly string[], targets: readonly string[]): string[] {
  const v6 = targets.filter((t) => literalFamily(t) === 6);
  const v4 = targets.filter((t) => literalFamily(t) === 4);
  if (v6.length > 0 && v4.length > 0) {
    throw new TargetError(
      `nmap scans one address family per run; split IPv4 (${v4[0]}) and IPv6 (${v6[0]}) targets into separate runs`,
      v6,
    );
  }
  const needsV6 = v6.length > 0 && !flags.includes('-6');
  return ['-oX', XML_OUTPUT_PATH, ...flags, ...(needsV6 ? ['-6'] : []), '--', ...targets];
}

/** 4 or 6 for address/range/CIDR literals (any form parseTarget accepts), undefined for host names. */
function literalFamily(target: string): 4 | 6 | undefined {
  if (target.includes(':')) return 6;
  return /^[0-9.,*/-]+$/.test(target) ? 4 : undefined;
}

export interface NmapProcessRunnerOptions {
  /** mkfifo executable used to make the XML pipe. Default "mkfifo" (looked up on PATH). */
  mkfifoPath?: string;
  /** Where the runner's private directory of XML pipes is made (removed when the process exits). Default os.tmpdir(). */
  tmpDir?: string;
  /**
   * util-linux `setpriv`, through which nmap is started with a parent-death signal: should this process die
   * without cancelling it (SIGKILL, the OOM killer), nmap gets SIGTERM at once instead of scanning on, unowned,
   * while its batch runs again elsewhere. `setpriv` execs nmap, so the pid and the exit status are nmap's.
   * Default: /usr/bin/setpriv when it exists (Debian and most Linux distributions have it); null starts nmap
   * directly.
   */
  parentDeathWrapper?: string | null;
}

const SETPRIV = '/usr/bin/setpriv';

type XmlPipe = { readFd: number; writeFd: number; path: string };

export class NmapProcessRunner implements NmapRunner {
  private readonly mkfifoPath: string;
  private readonly tmpDir: string;
  private readonly wrapper: string | null;
  /** The runner's private directory (mode 0700) of FIFOs, made with the first run. */
  private directory?: Promise<string>;
  /**
   * FIFOs no run uses now. A FIFO keeps no data once both ends are closed, so one whose last run read it to its
   * end is taken again: mkfifo, a process of its own (a fork of this large process: milliseconds of CPU), runs
   * once per concurrent run instead of once per batch.
   */
  private readonly idle: string[] = [];
  private made = 0;

  constructor(options: NmapProcessRunnerOptions = {}) {
    this.mkfifoPath = options.mkfifoPath ?? 'mkfifo';
    this.tmpDir = options.tmpDir ?? tmpdir();
    this.wrapper =
      options.parentDeathWrapper !== undefined
        ? options.parentDeathWrapper
        : isExecutable(SETPRIV)
          ? SETPRIV
          : null;
  }

  async run(opts: NmapRunOptions): Promise<NmapRunResult> {
    assertTargets(opts.targets);
    const argv = buildNmapArgv(opts.flags, opts.targets);
    const startedAt = Date.now();
    if (opts.signal?.aborted) {
      return emptyResult({ cancelled: true, durationMs: 0 });
    }
    const pipe = await this.openXmlPipe();
    return new Promise<NmapRunResult>((resolve, reject) => {
      let child: ChildProcess;
      try {
        const env = SAFE_NMAP_ENV(opts.env ?? process.env);
        // With the wrapper, a missing nmap is found here (as spawn would report it), not as setpriv's exit 127.
        const [command, args] = this.wrapper
          ? [this.wrapper, ['--pdeathsig', 'TERM', '--', findExecutable(opts.nmapPath, env), ...argv]]
          : [opts.nmapPath, argv];
        child = spawn(command, args, {
          stdio: ['ignore', 'pipe', 'pipe', pipe.writeFd],
          // Own process group, so cancelling reaches anything nmap started.
          detached: true,
          shell: false,
          env,
        });
      } catch (err) {
        closeQuietly(pipe.writeFd);
        closeQuietly(pipe.readFd);
        this.giveBack(pipe.path, true);
        reject(spawnError(opts.nmapPath, err));
        return;
      }
      // The child holds its own copy; ours must go so the reader sees end-of-file when nmap exits.
      closeQuietly(pipe.writeFd);
      const done = (readToEnd: boolean) => this.giveBack(pipe.path, readToEnd);
      new RunSupervisor(child, pipe.readFd, opts, startedAt, resolve, reject, done).start();
    });
  }

  /**
   * A real pipe for the XML, both ends open. Node's own 'pipe' stdio is a socketpair, which nmap cannot open by
   * path (/dev/fd/3 gives ENXIO), so the XML goes through a FIFO of the runner's private directory (mode 0700:
   * only this user can open it; nothing is written to disk): an idle one, or a new one (mkfifo).
   */
  private async openXmlPipe(): Promise<XmlPipe> {
    const fifo = this.idle.pop() ?? (await this.makeFifo());
    try {
      // Non-blocking read end first: opening the write end then succeeds immediately.
      const readFd = openSync(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      let writeFd: number;
      try {
        writeFd = openSync(fifo, fsConstants.O_WRONLY);
      } catch (err) {
        closeQuietly(readFd);
        throw err;
      }
      return { readFd, writeFd, path: fifo };
    } catch (err) {
      await fsp.rm(fifo, { force: true });
      throw err;
    }
  }

  private async makeFifo(): Promise<string> {
    this.directory ??= fsp.mkdtemp(join(this.tmpDir, 'nso-nmap-')).then(removedAtExit);
    const fifo = join(await this.directory, `xml-${++this.made}`);
    try {
      await execFileAsync(this.mkfifoPath, ['-m', '600', fifo]);
    } catch (err) {
      throw new Error(`cannot create the nmap XML pipe with "${this.mkfifoPath}": ${(err as Error).message}`);
    }
    return fifo;
  }

  /**
   * A run is done with its FIFO. One read to its end (every writer gone) is taken again; one whose reader gave up
   * first (a descendant of nmap may still hold it open and write later) is removed, so no run ever reads another's
   * XML.
   */
  private giveBack(fifo: string, readToEnd: boolean): void {
    if (readToEnd) this.idle.push(fifo);
    else void fsp.rm(fifo, { force: true }).catch(() => undefined);
  }
}

/** Follows one child process to the end and settles the run's promise exactly once. */
class RunSupervisor {
  private stdout = '';
  private stdoutTruncated = false;
  private stderr = '';
  private readonly xmlChunks: Buffer[] = [];
  private partialLine = '';
  private cancelled = false;
  private exit?: { code: number | null; signal: string | null };
  private xmlDone = false;
  /** The XML pipe reached end-of-file (rather than being destroyed). */
  private xmlEnded = false;
  private settled = false;
  private lineError?: unknown;
  private xmlError?: { error: unknown };
  private killTimer?: NodeJS.Timeout;
  private drainTimer?: NodeJS.Timeout;
  private readonly xml: Socket;
  private readonly maxStdout: number;
  private readonly onAbort = (): void => this.cancel();

  constructor(
    private readonly child: ChildProcess,
    xmlFd: number,
    private readonly opts: NmapRunOptions,
    private readonly startedAt: number,
    private readonly resolve: (r: NmapRunResult) => void,
    private readonly reject: (e: unknown) => void,
    /** Called once the XML pipe is closed: whether it was read to its end (every writer gone). */
    private readonly pipeDone: (readToEnd: boolean) => void,
  ) {
    this.xml = new Socket({ fd: xmlFd, readable: true, writable: false });
    this.maxStdout = opts.maxStdoutChars ?? DEFAULT_MAX_STDOUT_CHARS;
  }

  start(): void {
    const { child } = this;
    const keepXml = this.opts.keepXml !== false;
    this.xml.on('data', (chunk: Buffer) => {
      if (keepXml) this.xmlChunks.push(chunk);
      if (this.opts.onXml && !this.xmlError) {
        try {
          this.opts.onXml(chunk);
        } catch (error) {
          this.xmlError = { error };
        }
      }
    });
    this.xml.on('end', () => (this.xmlEnded = true));
    this.xml.on('close', () => {
      this.pipeDone(this.xmlEnded);
      this.xmlClosed();
    });
    this.xml.on('error', () => this.xml.destroy());

    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (this.stderr.length < MAX_STDERR_CHARS) {
        this.stderr += chunk.slice(0, MAX_STDERR_CHARS - this.stderr.length);
      }
    });
    child.on('error', (err) => {
      // Spawn failures (ENOENT, EACCES) arrive here with no pid; errors after a successful spawn (a failed kill)
      // are not fatal to the run, which still ends through 'close'.
      if (child.pid === undefined) this.fail(spawnError(this.opts.nmapPath, err));
    });
    child.on('close', (code, signal) => this.childClosed(code, signal));
    this.opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    // An abort that came while the pipe was being made has already fired its event.
    if (this.opts.signal?.aborted) this.cancel();
  }

  private onStdout(chunk: string): void {
    if (!this.stdoutTruncated) {
      const room = this.maxStdout - this.stdout.length;
      if (chunk.length > room) this.stdoutTruncated = true;
      this.stdout += chunk.slice(0, Math.max(0, room));
    }
    const text = this.partialLine + chunk;
    const lines = text.split('\n');
    this.partialLine = lines.pop() ?? '';
    for (const line of lines) this.emitLine(line);
  }

  private emitLine(line: string): void {
    if (this.lineError !== undefined || !this.opts.onLine) return;
    try {
      this.opts.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    } catch (err) {
      this.lineError = err;
    }
  }

  private cancel(): void {
    if (this.exit || this.settled) return;
    this.cancelled = true;
    this.signalGroup('SIGTERM');
    this.killTimer = setTimeout(
      () => this.signalGroup('SIGKILL'),
      this.opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
    );
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  private childClosed(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.settled) return;
    this.exit = { code, signal };
    if (this.killTimer) clearTimeout(this.killTimer);
    // A cancelled run must leave nothing behind: sweep the group in case nmap left a child of its own.
    if (this.cancelled) this.signalGroup('SIGKILL');
    if (this.partialLine !== '') this.emitLine(this.partialLine);
    this.partialLine = '';
    if (!this.xmlDone) this.drainTimer = setTimeout(() => this.xml.destroy(), XML_DRAIN_MS);
    this.finishIfDone();
  }

  private xmlClosed(): void {
    this.xmlDone = true;
    this.finishIfDone();
  }

  private finishIfDone(): void {
    if (this.settled || !this.exit || !this.xmlDone) return;
    this.settled = true;
    this.cleanup();
    if (this.lineError !== undefined) {
      this.reject(
        new Error(`onLine callback failed: ${errorMessage(this.lineError)}`, { cause: this.lineError }),
      );
      return;
    }
    if (this.xmlError) {
      this.reject(this.xmlError.error);
      return;
    }
    this.resolve({
      exitCode: this.exit.code,
      signal: this.exit.signal,
      stdout: this.stdout,
      stdoutTruncated: this.stdoutTruncated,
      stderr: this.stderr,
      xml: Buffer.concat(this.xmlChunks).toString('utf8'),
      cancelled: this.cancelled,
      durationMs: Date.now() - this.startedAt,
      pid: this.child.pid,
    });
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    this.xml.destroy();
    this.reject(err);
  }

  private cleanup(): void {
    if (this.killTimer) clearTimeout(this.killTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** The runners' FIFO directories of this process, removed when it exits. */
const directories = new Set<string>();

function removedAtExit(dir: string): string {
  if (directories.size === 0) {
    process.once('exit', () => {
      for (const each of directories) rmSync(each, { recursive: true, force: true });
    });
  }
  directories.add(dir);
  return dir;
}

function assertTargets(targets: readonly string[]): void {
  // Belt and braces: "--" already stops option parsing, but a target never has a reason to look like one.
  const bad = targets.filter(
    // eslint-disable-next-line no-control-regex
    (t) => typeof t !== 'string' || t === '' || t.startsWith('-') || /[\s\u0000-\u001f\u007f]/.test(t),
  );
  if (bad.length > 0)
    throw new TargetError(`invalid targets for nmap: ${bad.map((t) => JSON.stringify(t)).join(', ')}`, bad);
}

function emptyResult(fields: Partial<NmapRunResult>): NmapRunResult {
  return {
    exitCode: null,
    signal: null,
    stdout: '',
    stdoutTruncated: false,
    stderr: '',
    xml: '',
    cancelled: false,
    durationMs: 0,
    ...fields,
  };
}

function spawnError(nmapPath: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT')
    return new Error(`nmap executable not found at "${nmapPath}" (ENOENT)`, { cause: err });
  if (code === 'EACCES')
    return new Error(`nmap executable at "${nmapPath}" is not executable (EACCES)`, { cause: err });
  return new Error(`cannot start nmap at "${nmapPath}": ${errorMessage(err)}`, { cause: err });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
