// The differential test of issue 8 (B.5): the policy accepts exactly the option sets real nmap 7.93 starts with.
// Sets are drawn from the allow-list (every option, every value form, the known conflicting pairs), run against
// one loopback address and judged by probeNmapStart (nmap's XML appears only once its start-up checks pass).
// Runs as root, as the worker does, so raw scan types are available; nothing but 127.0.0.1 is ever scanned.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NMAP_LONG_OPTIONS, NmapArgumentPolicy, readNmapCommandLine } from './argument-policy';
import { runFamily } from './target-set';
import { parseTargets } from './targets';
import { probeNmapStart, StartVerdict } from './testing/nmap-start-probe';
import { generateOptionSets, KNOWN_CONFLICTS } from './testing/option-sets';

const TARGET = '127.0.0.1';
const SETS = 300;
const SEED = 20261130;
const PARALLEL = 4;
/** A run still going after this has started (its XML is out); it is stopped then. */
const DEADLINE_MS = 3000;

const policy = new NmapArgumentPolicy();
const execFileAsync = promisify(execFile);

/** What the gateway answers for these flags with TARGET: starts (200) or refuses (400), and why. */
function policyVerdict(flags: string[]): { verdict: StartVerdict; why: string } {
  try {
    runFamily(parseTargets([TARGET]), policy.validate(flags));
    return { verdict: 'starts', why: '' };
  } catch (error) {
    return { verdict: 'refuses', why: (error as Error).message };
  }
}

const isRoot = process.getuid?.() === 0;

(isRoot ? describe : describe.skip)('nmap argument policy against real nmap (differential)', () => {
  it(`accepts exactly the ${SETS} drawn option sets nmap starts with (seed ${SEED})`, async () => {
    const sets = generateOptionSets(SETS, SEED);
    expect(sets).toHaveLength(SETS);
    const mismatches: string[] = [];
    const verdicts = { starts: 0, refuses: 0 };
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < sets.length) {
        const flags = sets[next++];
        const ours = policyVerdict(flags);
        const nmap = await probeNmapStart(flags, TARGET, DEADLINE_MS);
        verdicts[nmap.verdict] += 1;
        if (ours.verdict !== nmap.verdict) {
          const stderr = nmap.stderr.trim().split('\n').slice(0, 2).join(' | ');
          mismatches.push(
            `${JSON.stringify(flags)}: policy ${ours.verdict}${ours.why ? ` (${ours.why})` : ''}, ` +
              `nmap ${nmap.verdict} (exit ${nmap.exitCode}${stderr ? `: ${stderr}` : ''})`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, lane));
    expect(mismatches).toEqual([]);
    // Both verdicts occur, so the comparison can fail either way.
    expect(verdicts.refuses).toBeGreaterThanOrEqual(KNOWN_CONFLICTS.length / 2);
    expect(verdicts.starts).toBeGreaterThan(SETS / 2);
  }, 120_000);

  it.each([
    [['-sO', '-p', '1000']],
    [['-sn', '-F']],
    [['-sT', '-p', '80', '-p', '443']],
    [['--min-rate', '10', '--max-rate', '1']],
    [['-6']],
  ])('the issue input %j is refused by nmap and by the policy alike', async (flags) => {
    expect((await probeNmapStart(flags, TARGET, DEADLINE_MS)).verdict).toBe('refuses');
    expect(policyVerdict(flags).verdict).toBe('refuses');
  });
});

(isRoot ? describe : describe.skip)(
  'readNmapCommandLine against real nmap 7.93 (which options take a value)',
  () => {
    // Options nmap acts on at once (help, version, interface list, script database) are left out: they take no value
    // (NMAP_LONG_TABLE), or print help (script-help).
    const SKIPPED = new Set(['help', 'version', 'iflist', 'script-updatedb', 'script-help', 'resume']);

    it('takes the next word as the value of exactly the options nmap says require one', async () => {
      const mismatches: string[] = [];
      for (const name of NMAP_LONG_OPTIONS.filter((o) => !SKIPPED.has(o))) {
        // Last on the line, an option that takes a value makes nmap say so; -sL sends no packet.
        const { stderr } = await runNmap(['-sL', '-n', TARGET, `--${name}`]);
        const nmapTakes = /requires an argument/.test(stderr);
        const oursTakes = readNmapCommandLine([`--${name}`, 'x']).options[0]?.value === 'x';
        if (nmapTakes !== oursTakes) mismatches.push(`--${name}: nmap ${nmapTakes}, ours ${oursTakes}`);
      }
      for (const letter of '46AbDdeFfgIiMmnOoPpqRrSsTv') {
        const { stderr } = await runNmap(['-sL', '-n', TARGET, `-${letter}`]);
        const nmapTakes = /requires an argument/.test(stderr);
        const oursTakes = readNmapCommandLine([`-${letter}`, 'x']).options[0]?.value === 'x';
        if (nmapTakes !== oursTakes) mismatches.push(`-${letter}: nmap ${nmapTakes}, ours ${oursTakes}`);
      }
      expect(mismatches).toEqual([]);
    }, 120_000);
  },
);

/** Runs nmap in a scratch directory (an output option's file lands there) and returns its stderr. */
async function runNmap(args: string[]): Promise<{ stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'nso-nmap-arity-'));
  try {
    const { stderr } = await execFileAsync('nmap', args, { cwd: dir, timeout: 20_000 }).catch(
      (error: { stderr?: string }) => ({ stderr: error.stderr ?? '' }),
    );
    return { stderr: String(stderr) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
