// The differential test of issue 8 (B.5): the policy accepts exactly the option sets real nmap 7.93 starts with.
// Sets are drawn from the allow-list (every option, every value form, the known conflicting pairs), run against
// one loopback address and judged by probeNmapStart (nmap's XML appears only once its start-up checks pass).
// Runs as root, as the worker does, so raw scan types are available; nothing but 127.0.0.1 is ever scanned.
import { NmapArgumentPolicy } from './argument-policy';
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
