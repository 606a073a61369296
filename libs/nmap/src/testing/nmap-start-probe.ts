// Whether real nmap starts with an option set: the criterion of the differential policy test (see
// docs/nmap-policy.md, "How the combination rules are checked").
import { NmapProcessRunner } from '../runner';

export type StartVerdict = 'starts' | 'refuses';

export interface StartProbe {
  verdict: StartVerdict;
  /** nmap's stderr, for a failing comparison's message. */
  stderr: string;
  exitCode: number | null;
  /** Stopped at the deadline while scanning (it had started). */
  cut: boolean;
}

/**
 * Runs nmap as the worker does (NmapProcessRunner: the same argv, environment and XML pipe) and decides:
 * - nmap writes its XML `<nmaprun>` element only once every start-up check has passed (a start-up refusal
 *   prints "QUITTING!", exits 1 and leaves no XML at all);
 * - it "starts" when that element was written, it did not exit non-zero, and it did not end having taken no
 *   target at all (`<hosts ... total="0"`: how nmap ends when it cannot use the target, e.g. `-6` with an IPv4
 *   address);
 * - a run still going at `deadlineMs` has started (its XML is there) and is stopped then.
 */
export async function probeNmapStart(
  flags: readonly string[],
  target: string,
  deadlineMs: number,
  nmapPath = 'nmap',
): Promise<StartProbe> {
  const runner = new NmapProcessRunner();
  const result = await runner.run({
    nmapPath,
    flags: [...flags],
    targets: [target],
    signal: AbortSignal.timeout(deadlineMs),
    killGraceMs: 500,
  });
  const wroteXml = result.xml.includes('<nmaprun');
  const tookNoTarget = /<hosts [^>]*total="0"/.test(result.xml);
  const starts = result.cancelled
    ? wroteXml
    : wroteXml && result.exitCode === 0 && !tookNoTarget && !result.stderr.includes('QUITTING');
  return {
    verdict: starts ? 'starts' : 'refuses',
    stderr: result.stderr,
    exitCode: result.exitCode,
    cut: result.cancelled,
  };
}
