// nmap's own progress reports, typed. With `--stats-every <time>` nmap reports each running task both in its
// XML (`<taskprogress task time percent remaining etc/>`, between <taskbegin> and <taskend>, which -v adds) and on
// stdout ("Connect Scan Timing: About 45.00% done; ETC: 12:34 (0:00:12 remaining)" after a "Stats: ..." line).
// The worker's runner has both: the XML on its own pipe (NmapXmlStreamParser's onProgress) and stdout as lines.

/** One `<taskprogress>`: how far nmap is with one task (a scan phase: "Connect Scan", "Service scan", ...). */
export interface NmapTaskProgress {
  /** nmap's name of the task, e.g. "Connect Scan", "SYN Stealth Scan", "Service scan", "Ping Scan". */
  task: string;
  /** 0–100, as nmap estimates it (two decimals). */
  percent: number;
  /** Unix seconds when nmap wrote the report (absent in the text form). */
  time?: number;
  /** Seconds nmap expects the task still to take. */
  remaining?: number;
  /** Unix seconds when nmap expects the task to end (absent in the text form: it gives a wall clock there). */
  etc?: number;
}

/** `<taskbegin>` / `<taskend>` (written with -v): a task starts or ends. */
export interface NmapTaskBoundary {
  phase: 'begin' | 'end';
  task: string;
  /** Unix seconds. */
  time?: number;
  /** nmap's note at the end, e.g. "30 total ports". */
  extrainfo?: string;
}

/**
 * The "Stats:" line nmap prints on stdout before each progress line: "Stats: 0:00:03 elapsed; 2 hosts completed
 * (3 up), 1 undergoing Connect Scan". Has no XML counterpart (in the XML a host is done when its <host> comes).
 */
export interface NmapStatsLine {
  kind: 'stats';
  /** Seconds since nmap started. */
  elapsed: number;
  hostsCompleted: number;
  hostsUp: number;
  /** Hosts in the current task, and its name ("Connect Scan"); absent between tasks. */
  undergoing?: number;
  task?: string;
}

/** A progress line of nmap's stdout: the task's percent, its remaining seconds and nmap's clock-time ETC. */
export interface NmapProgressLine extends NmapTaskProgress {
  kind: 'progress';
  /** nmap's estimated end as it printed it, in the local time of nmap's host ("12:34"). */
  etcClock?: string;
}

const PROGRESS_LINE =
  /^(.+?) Timing: About (\d+(?:\.\d+)?)% done(?:; ETC: (\d{1,2}:\d{2}) \((\d+:\d{2}:\d{2}) remaining\))?/;
const STATS_LINE =
  /^Stats: (\d+:\d{2}:\d{2}) elapsed; (\d+) hosts? completed \((\d+) up\)(?:, (\d+) undergoing (.+))?$/;

/**
 * Reads one stdout line of nmap (without the line break) as a progress or stats report, or undefined for any
 * other line. Never throws. Example: "Connect Scan Timing: About 45.00% done; ETC: 23:40 (0:00:12 remaining)" →
 * `{kind: 'progress', task: 'Connect Scan', percent: 45, remaining: 12, etcClock: '23:40'}`.
 */
export function parseNmapProgressLine(line: string): NmapProgressLine | NmapStatsLine | undefined {
  if (line.startsWith('Stats: ')) {
    const m = STATS_LINE.exec(line);
    if (!m) return undefined;
    return {
      kind: 'stats',
      elapsed: clockSeconds(m[1]),
      hostsCompleted: Number(m[2]),
      hostsUp: Number(m[3]),
      ...(m[4] !== undefined ? { undergoing: Number(m[4]), task: m[5] } : {}),
    };
  }
  if (!line.includes(' Timing: About ')) return undefined;
  const m = PROGRESS_LINE.exec(line);
  if (!m) return undefined;
  const percent = Number(m[2]);
  if (!(percent >= 0 && percent <= 100)) return undefined;
  return {
    kind: 'progress',
    task: m[1],
    percent,
    ...(m[4] !== undefined ? { remaining: clockSeconds(m[4]), etcClock: m[3] } : {}),
  };
}

/**
 * A `<taskprogress>` element's attributes as an NmapTaskProgress, or undefined when it names no task or its
 * percent is not a number from 0 to 100 (a report nothing can show). Numbers that are absent or not numbers are
 * left out.
 */
export function taskProgressFromAttributes(attrs: Record<string, string>): NmapTaskProgress | undefined {
  const task = attrs['task'];
  const percent = finite(attrs['percent']);
  if (!task || percent === undefined || percent < 0 || percent > 100) return undefined;
  const time = finite(attrs['time']);
  const remaining = finite(attrs['remaining']);
  const etc = finite(attrs['etc']);
  return {
    task,
    percent,
    ...(time !== undefined ? { time } : {}),
    ...(remaining !== undefined ? { remaining } : {}),
    ...(etc !== undefined ? { etc } : {}),
  };
}

/** `<taskbegin>` / `<taskend>` attributes as an NmapTaskBoundary, or undefined when it names no task. */
export function taskBoundaryFromAttributes(
  phase: NmapTaskBoundary['phase'],
  attrs: Record<string, string>,
): NmapTaskBoundary | undefined {
  const task = attrs['task'];
  if (!task) return undefined;
  const time = finite(attrs['time']);
  return {
    phase,
    task,
    ...(time !== undefined ? { time } : {}),
    ...(attrs['extrainfo'] !== undefined ? { extrainfo: attrs['extrainfo'] } : {}),
  };
}

function finite(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** "H:MM:SS" (hours may exceed 24) → seconds. */
function clockSeconds(text: string): number {
  const [h, m, s] = text.split(':').map(Number);
  return h * 3600 + m * 60 + s;
}

/**
 * The flags with `--stats-every=<seconds>s` added at the end, so that nmap reports its progress every `seconds`
 * (stdout lines and XML `<taskprogress>`), or the flags unchanged when they set `--stats-every` themselves (the
 * user's interval wins). `flags` must be NmapArgumentPolicy.validate's output, which writes the option as
 * `--stats-every=<time>` whatever form the user typed (the bare `--stats-every` is recognised too). The option changes nothing but these reports: no
 * verbosity, no output file.
 */
export function withStatsEvery(flags: readonly string[], seconds: number): string[] {
  if (flags.some((flag) => flag === '--stats-every' || flag.startsWith('--stats-every='))) return [...flags];
  return [...flags, `--stats-every=${seconds}s`];
}
