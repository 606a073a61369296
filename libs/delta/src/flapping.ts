// Flapping ports (issue 21): a port whose open / not-open state keeps changing from run to run is named as such
// instead of being announced as a new change every time. Pure: the delta service reads a port's history over the
// scan's last runs and asks this whether its change is worth announcing.

/** How flapping is judged, per scan definition. */
export interface FlapPolicy {
  /** How many of the scan's latest runs that looked at the port are read (default 10). */
  window: number;
  /**
   * Open ↔ not-open changes within the window that make a port flapping (default 3); also how many consecutive
   * runs in one state make it stable again.
   */
  threshold: number;
}

export const DEFAULT_FLAP_POLICY: Readonly<FlapPolicy> = Object.freeze({ window: 10, threshold: 3 });

/** What the history of one port says. */
export interface FlapVerdict {
  /** The port flaps: its changes are listed with `flapping: true` and not announced. */
  flapping: boolean;
  /** Open ↔ not-open changes between consecutive observations within the window. */
  transitions: number;
  /** How many of the latest observations in a row share the newest state (0 for no observation). */
  stableRuns: number;
  /**
   * How many observations in a row held the state before the newest run's, when the newest is a change (0
   * otherwise): a port that held it `threshold` runs had become stable, and the change it makes now is new.
   */
  heldBefore: number;
}

/**
 * Judges one port from its history, oldest first: `true` where a run found it open, `false` where a run that
 * looked at it found it in any other state (closed, filtered, gone). Runs that did not look at the port (not a
 * target, batch failed, port not scanned) must be left out by the caller: only what was seen counts.
 *
 * Only the last `policy.window` observations are read. The port is flapping when they hold at least
 * `policy.threshold` changes, the newest state has not yet held for `policy.threshold` runs in a row, and — when the
 * newest run is itself a change — the state before it had not held that long either. So a flapping port becomes
 * stable again once it keeps one state `policy.threshold` runs, and the next change it makes is announced (the
 * earlier toggles may still be in the window: they are over).
 * Throws RangeError for a window or threshold that is not a positive integer.
 */
export function judgeFlapping(
  history: readonly boolean[],
  policy: FlapPolicy = DEFAULT_FLAP_POLICY,
): FlapVerdict {
  for (const [name, value] of Object.entries(policy))
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  const seen = history.slice(-policy.window);
  let transitions = 0;
  for (let i = 1; i < seen.length; i++) if (seen[i] !== seen[i - 1]) transitions++;
  let stableRuns = 0;
  for (let i = seen.length - 1; i >= 0 && seen[i] === seen[seen.length - 1]; i--) stableRuns++;
  let heldBefore = 0;
  if (stableRuns === 1)
    for (let i = seen.length - 2; i >= 0 && seen[i] === seen[seen.length - 2]; i--) heldBefore++;
  return {
    flapping:
      transitions >= policy.threshold && stableRuns < policy.threshold && heldBefore < policy.threshold,
    transitions,
    stableRuns,
    heldBefore,
  };
}
