// Runs the real nmap, against loopback listeners opened by the test only (127.0.0.0/8 and ::1).
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo, createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NmapXmlError, TargetError } from './errors';
import { parseNmapXml, portKey } from './parser';
import { NmapTaskProgress, parseNmapProgressLine } from './progress';
import { NmapXmlStreamParser } from './xml-stream';
import { buildNmapArgv, NmapProcessRunner } from './runner';

const NMAP = '/usr/bin/nmap';
const runner = new NmapProcessRunner();

function listen(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    // nmap's connect scan resets connections; a reset is expected here, not a test failure.
    const server = createServer((socket) => socket.on('error', () => undefined).end());
    server.once('error', reject);
    server.listen(0, host, () => resolve(server));
  });
}

const portOf = (server: Server): number => (server.address() as AddressInfo).port;
const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

/**
 * Live (non-zombie) processes of a process group, from /proc. A SIGKILLed grandchild is reparented to init and
 * stays a zombie until init reaps it, which can take a while in containers; a zombie runs nothing.
 */
function liveGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces, so split after its closing parenthesis.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(entry));
  }
  return members;
}

/** Polls briefly until nothing of the group runs any more. */
async function groupGone(pgid: number, deadlineMs = 1000): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (liveGroupMembers(pgid).length > 0) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** A stand-in "nmap" (a shell script), for what real nmap cannot show on demand. */
let scriptDir: string;
function fakeNmap(name: string, body: string): string {
  const path = join(scriptDir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

beforeAll(() => {
  scriptDir = mkdtempSync(join(tmpdir(), 'nso-runner-spec-'));
});
afterAll(() => rmSync(scriptDir, { recursive: true, force: true }));

describe('NmapProcessRunner with real nmap on loopback', () => {
  let server: Server;
  beforeAll(async () => {
    server = await listen('127.0.0.23');
  });
  afterAll(() => close(server));

  it('streams stdout lines in order and collects the XML separately', async () => {
    const port = portOf(server);
    const lines: string[] = [];
    const result = await runner.run({
      nmapPath: NMAP,
      flags: ['-sT', '-Pn', '-n', `-p${port}`],
      targets: ['127.0.0.23'],
      onLine: (line) => lines.push(line),
    });

    expect(result.exitCode).toBe(0);
    expect(result.signal).toBeNull();
    expect(result.cancelled).toBe(false);
    expect(result.stdout).toMatch(new RegExp(`^${port}/tcp open`, 'm'));
    expect(lines).toEqual(result.stdout.replace(/\n$/, '').split('\n'));
    expect(lines[0]).toMatch(/^Starting Nmap/);
    expect(lines.at(-1)).toMatch(/^Nmap done: 1 IP address \(1 host up\)/);
    // stdout is the human-readable output only; the XML came through its own pipe.
    expect(result.stdout).not.toContain('<nmaprun');

    const parsed = await parseNmapXml(result.xml);
    expect(parsed.args).toBe(`${NMAP} -oX /dev/fd/3 -sT -Pn -n -p${port} -- 127.0.0.23`);
    expect(parsed.hosts[0].address).toBe('127.0.0.23');
    expect(parsed.hosts[0].ports.map((p) => [portKey(p), p.state])).toEqual([[`tcp/${port}`, 'open']]);
    expect(parsed.openPorts).toBe(1);
    expect(result.durationMs).toBeGreaterThan(0);
  });

  it('adds -6 for IPv6 targets', async () => {
    const v6 = await listen('::1');
    try {
      const port = portOf(v6);
      const result = await runner.run({
        nmapPath: NMAP,
        flags: ['-sT', '-Pn', '-n', `-p${port}`],
        targets: ['::1'],
      });
      const parsed = await parseNmapXml(result.xml);
      expect(parsed.hosts[0]).toMatchObject({ address: '::1', addressType: 'ipv6' });
      expect(parsed.openPorts).toBe(1);
    } finally {
      await close(v6);
    }
  });

  it('streams the XML while nmap runs: progress reports and hosts as they come, the document not kept', async () => {
    const port = portOf(server);
    const events: string[] = [];
    const progress: NmapTaskProgress[] = [];
    const textProgress: number[] = [];
    const parser = new NmapXmlStreamParser({
      onProgress: (p) => progress.push(p) && events.push(`progress ${p.percent}`),
      onHost: (h) => events.push(`host ${h.address} ${h.ports.filter((p) => p.state === 'open').length}`),
    });
    const result = await runner.run({
      nmapPath: NMAP,
      // --scan-delay slows the 12 probes of each host to about 3 s, so that --stats-every 1s reports a few times.
      flags: ['-sT', '-Pn', '-n', `-p${port},8085-8095`, '--scan-delay', '250ms', '--stats-every', '1s'],
      targets: ['127.0.0.23', '127.0.0.24'],
      keepXml: false,
      onXml: (chunk) => parser.write(chunk),
      onLine: (line) => {
        const report = parseNmapProgressLine(line);
        if (report?.kind === 'progress') textProgress.push(report.percent);
      },
    });
    const summary = parser.end();
    expect(result.exitCode).toBe(0);
    expect(result.xml).toBe('');
    expect(summary).toMatchObject({ exit: 'success', openPorts: 1, stats: { hostsUp: 2, hostsTotal: 2 } });
    expect(progress.length).toBeGreaterThanOrEqual(1);
    for (const p of progress) {
      expect(p).toMatchObject({ task: 'Connect Scan' });
      expect(p.percent).toBeGreaterThan(0);
      expect(p.percent).toBeLessThan(100);
    }
    // The same reports on stdout, in its text form.
    expect(textProgress).toEqual(progress.map((p) => p.percent));
    expect(events.slice(progress.length)).toEqual(['host 127.0.0.23 1', 'host 127.0.0.24 0']);
  });

  it("rejects with the XML reader's own error when it throws", async () => {
    const parser = new NmapXmlStreamParser({
      onHost: () => {
        throw new NmapXmlError('stop here', 'malformed');
      },
    });
    const run = runner.run({
      nmapPath: NMAP,
      flags: ['-sT', '-Pn', '-n', `-p${portOf(server)}`],
      targets: ['127.0.0.23'],
      onXml: (chunk) => parser.write(chunk),
    });
    await expect(run).rejects.toThrow(new NmapXmlError('stop here', 'malformed'));
  });

  it('cancels a long scan quickly and leaves no process of its group behind', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const run = runner.run({
      nmapPath: NMAP,
      // About 18 hours at one probe per second: it only ends because we cancel it.
      flags: ['-sT', '-Pn', '-n', '-p1-65535', '--scan-delay', '1s'],
      targets: ['127.0.0.1'],
      signal: controller.signal,
      // Cancel once nmap is really running.
      onLine: (line) => {
        if (line.startsWith('Starting Nmap')) controller.abort();
      },
    });
    const result = await run;
    expect(result.cancelled).toBe(true);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(result.pid).toBeDefined();
    expect(await groupGone(result.pid as number)).toBe(true);
    // nmap buffers its XML, so a killed run leaves an empty or truncated document, never a valid one.
    await expect(parseNmapXml(result.xml)).rejects.toBeInstanceOf(NmapXmlError);
  });
});

describe('NmapProcessRunner', () => {
  it('rejects with a clear error when nmap is not found', async () => {
    await expect(
      runner.run({ nmapPath: join(scriptDir, 'no-such-nmap'), flags: [], targets: ['127.0.0.1'] }),
    ).rejects.toThrow(/nmap executable not found at ".*no-such-nmap" \(ENOENT\)/);
  });

  it('reports a bare nmap name that is not on PATH as not found', async () => {
    await expect(
      runner.run({ nmapPath: 'no-such-nmap', flags: [], targets: ['127.0.0.1'], env: { PATH: scriptDir } }),
    ).rejects.toThrow(/nmap executable not found at "no-such-nmap" \(ENOENT\)/);
  });

  it('execs nmap in place through the parent-death wrapper, and runs it directly without one', async () => {
    const script = fakeNmap('pid', 'echo "pid:$$"');
    for (const wrapped of [new NmapProcessRunner(), new NmapProcessRunner({ parentDeathWrapper: null })]) {
      const result = await wrapped.run({ nmapPath: script, flags: [], targets: ['127.0.0.1'] });
      expect(result.exitCode).toBe(0);
      // The pid the runner reports (and signals on cancellation) is the one that ran the script.
      expect(result.stdout.trim()).toBe(`pid:${result.pid}`);
    }
  });

  it('passes argv without a shell, "--" before the targets, and a scrubbed environment', async () => {
    const script = fakeNmap(
      'print-args',
      [
        'for a in "$@"; do echo "arg:$a"; done',
        'env | sed "s/^/env:/"',
        "echo '<nmaprun></nmaprun>' > /dev/fd/3",
      ].join('\n'),
    );
    const result = await runner.run({
      nmapPath: script,
      flags: ['-sT', '-p22'],
      targets: ['127.0.0.1', 'localhost', '$(id)'],
      env: { PATH: process.env.PATH, KEEP_ME: 'yes', NMAPDIR: '/tmp/x', NMAP_PRIVILEGED: '1' },
    });
    const lines = result.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('arg:'))).toEqual(
      ['-oX', '/dev/fd/3', '-sT', '-p22', '--', '127.0.0.1', 'localhost', '$(id)'].map((a) => `arg:${a}`),
    );
    const env = lines.filter((l) => l.startsWith('env:'));
    expect(env).toContain('env:KEEP_ME=yes');
    expect(env.some((l) => /^env:(NMAPDIR|NMAP_)/.test(l))).toBe(false);
    expect(result.xml.trim()).toBe('<nmaprun></nmaprun>');
  });

  it('joins partial chunks into lines, strips CRLF and flushes the last partial line', async () => {
    const script = fakeNmap('chunks', "printf 'one\\r\\ntw'; sleep 0.1; printf 'o\\n\\nthree'");
    const lines: string[] = [];
    const result = await runner.run({
      nmapPath: script,
      flags: [],
      targets: ['127.0.0.1'],
      onLine: (l) => lines.push(l),
    });
    expect(lines).toEqual(['one', 'two', '', 'three']);
    expect(result.stdout).toBe('one\r\ntwo\n\nthree');
    expect(result.exitCode).toBe(0);
  });

  it('escalates to SIGKILL for the whole group when SIGTERM is ignored', async () => {
    // The shell and its sleep both ignore SIGTERM; only a group-wide SIGKILL ends them.
    const script = fakeNmap('stubborn', "trap '' TERM\necho started\nsleep 30 &\nwait");
    const controller = new AbortController();
    const started = Date.now();
    const result = await runner.run({
      nmapPath: script,
      flags: [],
      targets: ['127.0.0.1'],
      signal: controller.signal,
      killGraceMs: 300,
      onLine: () => controller.abort(),
    });
    expect(result.cancelled).toBe(true);
    expect(result.signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeLessThan(2500);
    expect(await groupGone(result.pid as number)).toBe(true);
  });

  /**
   * A runner of its own FIFO directory under a fresh temporary one, whose mkfifo counts its calls; `fifosMade()`
   * says how many. Pass the test's body; the directory goes afterwards.
   */
  async function withCountingRunner(
    name: string,
    body: (own: NmapProcessRunner, fifosMade: () => number) => Promise<void>,
  ): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'nso-runner-fifo-'));
    try {
      const made = join(dir, 'made');
      const mkfifo = fakeNmap(`count-mkfifo-${name}`, `echo made >> ${made}\nexec mkfifo "$@"`);
      const own = new NmapProcessRunner({ mkfifoPath: mkfifo, tmpDir: dir });
      await body(own, () => readFileSync(made, 'utf8').split('\n').filter(Boolean).length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const ownXml = (name: string) => fakeNmap(name, "printf 'xml of %s' $$ >&3; echo done");

  it('makes a FIFO per concurrent run, not per run, and each run reads only its own XML', async () => {
    await withCountingRunner('reuse', async (own, fifosMade) => {
      const script = ownXml('xml-pid');
      const run = () => own.run({ nmapPath: script, flags: [], targets: ['127.0.0.1'], keepXml: true });
      for (let i = 0; i < 3; i++) {
        const result = await run();
        expect(result.xml).toBe(`xml of ${result.pid}`);
      }
      expect(fifosMade()).toBe(1);
      const together = await Promise.all([run(), run(), run()]);
      for (const result of together) expect(result.xml).toBe(`xml of ${result.pid}`);
      expect(fifosMade()).toBe(3);
    });
  });

  it('does not take again a FIFO that something of the last run may still write to', async () => {
    await withCountingRunner('leaver', async (own, fifosMade) => {
      // "nmap" exits, leaving a child that holds the XML pipe open past the runner's wait for it.
      const leaver = fakeNmap(
        'leaver',
        "sleep 4 >&3 2>/dev/null </dev/null &\nprintf 'first' >&3; echo done",
      );
      const first = await own.run({ nmapPath: leaver, flags: [], targets: ['127.0.0.1'], keepXml: true });
      expect(first.xml).toBe('first');
      const second = await own.run({
        nmapPath: ownXml('xml-pid-2'),
        flags: [],
        targets: ['127.0.0.1'],
        keepXml: true,
      });
      expect(second.xml).toBe(`xml of ${second.pid}`);
      expect(fifosMade()).toBe(2);
    });
  });

  it('does not start nmap when the signal is already aborted', async () => {
    const result = await runner.run({
      nmapPath: join(scriptDir, 'never-run'),
      flags: [],
      targets: ['127.0.0.1'],
      signal: AbortSignal.abort(),
    });
    expect(result).toMatchObject({ cancelled: true, exitCode: null, stdout: '', xml: '' });
    expect(result.pid).toBeUndefined();
  });

  it('caps the stdout it keeps but still delivers every line', async () => {
    const script = fakeNmap('chatty', 'i=0; while [ $i -lt 200 ]; do echo "line $i"; i=$((i+1)); done');
    const lines: string[] = [];
    const result = await runner.run({
      nmapPath: script,
      flags: [],
      targets: ['127.0.0.1'],
      maxStdoutChars: 100,
      onLine: (l) => lines.push(l),
    });
    expect(result.stdout).toHaveLength(100);
    expect(result.stdoutTruncated).toBe(true);
    expect(lines).toHaveLength(200);
  });

  it('rejects when the onLine callback throws', async () => {
    const script = fakeNmap('one-line', 'echo hello');
    await expect(
      runner.run({
        nmapPath: script,
        flags: [],
        targets: ['127.0.0.1'],
        onLine: () => {
          throw new Error('listener broke');
        },
      }),
    ).rejects.toThrow('onLine callback failed: listener broke');
  });

  it('refuses targets that look like options before spawning anything', async () => {
    await expect(runner.run({ nmapPath: NMAP, flags: [], targets: ['-oX'] })).rejects.toBeInstanceOf(
      TargetError,
    );
    await expect(runner.run({ nmapPath: NMAP, flags: [], targets: ['127.0.0.1\n'] })).rejects.toBeInstanceOf(
      TargetError,
    );
  });
});

describe('buildNmapArgv', () => {
  it('puts the XML output first and "--" right before the targets', () => {
    expect(buildNmapArgv(['-sT', '-p22'], ['127.0.0.1', '127.0.0.0/30'])).toEqual([
      '-oX',
      '/dev/fd/3',
      '-sT',
      '-p22',
      '--',
      '127.0.0.1',
      '127.0.0.0/30',
    ]);
  });

  it('adds -6 once when every address target is IPv6', () => {
    expect(buildNmapArgv(['-sT'], ['::1', 'localhost'])).toEqual([
      '-oX',
      '/dev/fd/3',
      '-sT',
      '-6',
      '--',
      '::1',
      'localhost',
    ]);
    expect(buildNmapArgv(['-6'], ['::1'])).toEqual(['-oX', '/dev/fd/3', '-6', '--', '::1']);
  });

  it('refuses to mix IPv4 and IPv6 in one run (nmap would silently skip one family)', () => {
    expect(() => buildNmapArgv([], ['127.0.0.1', '::1'])).toThrow(TargetError);
    expect(() => buildNmapArgv([], ['127.0.0.1', '::1'])).toThrow(/one address family per run/);
  });
});
