// What a run looked at, read from its nmap options: which protocols and ports it scanned, and the options that
// decide whether two runs can be compared at all. nmap's own defaults (SYN/connect scan of the top 1,000 TCP
// ports) apply when an option is absent. Works on the normalised flags the gateway stores (`-p22,80`,
// `--top-ports=100`, one `-sX` per scan type) and on their raw forms (`-p 22`, `--top-ports 100`, `-sSU`), read with
// the nmap option table of the argument policy (readNmapCommandLine).
import { readNmapCommandLine } from '@nso/nmap';

export type ScannedProtocol = 'tcp' | 'udp' | 'sctp' | 'ip';

/** Inclusive port ranges of one protocol, sorted and merged. */
export type PortRanges = ReadonlyArray<readonly [number, number]>;

/**
 * The ports a run scanned. `explicit`: exactly these ranges per protocol (from `-p`). `top`: nmap's N most
 * common ports of each scanned protocol (`-F` is 100, the default 1,000, `--top-ports N`) — which ports those are
 * depends on the nmap-services file of the scanner, so the list is not known here. `unknown`: options that pick
 * ports by ratio (`--port-ratio`, with or without `-p`), exclude some of the top ports (`--exclude-ports` without
 * `-p`; with `-p` the exclusions are taken out of the list), or `--top-ports` with `-p` (nmap scans the top N of
 * the list); `selection` names those options. `none`: no port scan (`-sn`, `-sL`).
 */
export type PortCoverage =
  | { kind: 'explicit'; ranges: Partial<Record<ScannedProtocol, PortRanges>> }
  | { kind: 'top'; count: number; protocols: ScannedProtocol[] }
  | { kind: 'unknown'; protocols: ScannedProtocol[]; why: string; selection?: string }
  | { kind: 'none' };

/** The options of a run that change what a diff can say. */
export interface ScanOptions {
  /** Scan types as nmap letters, sorted: `['S']`, `['T', 'U']`; `[]` when no port scan runs. */
  scanTypes: string[];
  /** `-sV` (service/version detection). */
  versionDetection: boolean;
  /** A canonical text of the port selection: `tcp:22,80`, `top:1000`, `none`, ... */
  portSpec: string;
  ports: PortCoverage;
  /**
   * `--open`: nmap lists only hosts with an open (or possibly open) port, so a host the run does not list may be
   * up with every port closed — its absence does not say it is down.
   */
  openOnly: boolean;
}

/** `-s<letter>` letters that are TCP port scans (nmap(1) "PORT SCANNING TECHNIQUES"; `I` is the idle scan). */
const TCP_TYPES = new Set(['S', 'T', 'A', 'W', 'M', 'N', 'F', 'X', 'I']);
/** `-s<letter>` letters that turn the port scan off: `-sn`, `-sL`, and `-sP` (nmap's old name for `-sn`). */
const NO_PORT_SCAN = new Set(['n', 'L', 'P']);
/**
 * `-s<letter>` letters that are not scan types, with what they turn on (nmap.cc parses `-s` letter by letter):
 * `-sV` version detection; `-sR`, since nmap 5.x an alias of `-sV`; `-sC` the default NSE scripts
 * (`--script=default`), which scan no port of their own.
 */
const NOT_SCAN_TYPES: Readonly<Record<string, { versionDetection?: true }>> = {
  V: { versionDetection: true },
  R: { versionDetection: true },
  C: {},
};
/**
 * Options that imply others which matter here (nmap(1), "OPTIONS SUMMARY" and each section): `-A` is
 * `-O -sV -sC --traceroute`, so it turns version detection on and picks no scan type of its own.
 */
const IMPLIED_BY: Readonly<Record<string, { versionDetection?: true }>> = {
  '-A': { versionDetection: true },
};

function protocolsOf(types: readonly string[]): ScannedProtocol[] {
  const protocols = new Set<ScannedProtocol>();
  for (const t of types) {
    if (TCP_TYPES.has(t)) protocols.add('tcp');
    else if (t === 'U') protocols.add('udp');
    else if (t === 'Y' || t === 'Z') protocols.add('sctp');
    else if (t === 'O') protocols.add('ip');
  }
  return [...protocols].sort();
}

/**
 * nmap_flags → ScanOptions. Never throws: an option it does not know is ignored (the gateway's allow-list decides
 * what a run may use; an imported file's `args` may hold anything nmap accepts), and a port selection it cannot
 * enumerate is `top` or `unknown`, never guessed. Options that imply others are followed (`-A` → `-sV`, `-sR` →
 * `-sV`); `-sC` (scripts) and `-sV` are not scan types, so `nmap -sC -sV` is nmap's default TCP scan with -sV.
 */
export function scanOptionsOf(flags: readonly string[]): ScanOptions {
  const types = new Set<string>();
  let noPortScan = false;
  let versionDetection = false;
  let portList: string | undefined;
  let top: number | undefined;
  let fast = false;
  let openOnly = false;
  let ratio = false;
  let excludeList: string | undefined;
  // The options that pick ports, as read: an unknown selection is named by them, so that two runs with different
  // exclusions (or ratios) are not taken for the same selection.
  const selection: string[] = [];
  // Read as nmap reads its command line (the policy's option table: every option's value whichever way it was
  // written, `-sSU` as -s with the letters SU, nothing after `--`), so a value is never taken for an option.
  for (const { name, value } of readNmapCommandLine(flags).options) {
    if (IMPLIED_BY[name]) {
      if (IMPLIED_BY[name].versionDetection) versionDetection = true;
    } else if (name === '-s') {
      for (const letter of value ?? '') {
        const other = NOT_SCAN_TYPES[letter];
        if (other) {
          if (other.versionDetection) versionDetection = true;
        } else if (NO_PORT_SCAN.has(letter)) noPortScan = true;
        else types.add(letter);
      }
    } else if (name === '-p') {
      portList = value;
      selection.push(`-p${value}`);
    } else if (name === '-F') {
      fast = true;
      selection.push('-F');
    } else if (name === '--open') {
      openOnly = true;
    } else if (name === '--top-ports') {
      top = Number(value);
      selection.push(`--top-ports=${value}`);
    } else if (name === '--port-ratio') {
      ratio = true;
      selection.push(`--port-ratio=${value}`);
    } else if (name === '--exclude-ports') {
      excludeList = value;
      selection.push(`--exclude-ports=${value}`);
    }
  }
  // nmap's default scan type is SYN when it may send raw packets, connect otherwise: both are TCP.
  if (types.size === 0 && !noPortScan) types.add('S');
  const scanTypes = noPortScan && types.size === 0 ? [] : [...types].sort();
  const protocols = protocolsOf(scanTypes);
  let ports: PortCoverage;
  // With -p, nmap still applies --port-ratio and --top-ports to the list (the top N of the listed ports), and
  // --exclude-ports: the list alone is not what it scanned.
  let unknownWhy: string | undefined;
  if (ratio) unknownWhy = '--port-ratio picks ports from the scanner’s nmap-services file';
  else if (portList !== undefined && top !== undefined)
    unknownWhy = '--top-ports with -p picks the top ports of the list from the scanner’s nmap-services file';
  else if (portList === undefined && excludeList !== undefined)
    unknownWhy = '--exclude-ports narrows the top ports, which the scanner’s nmap-services file picks';
  if (scanTypes.length === 0) ports = { kind: 'none' };
  else if (unknownWhy)
    ports = { kind: 'unknown', protocols, why: unknownWhy, selection: selection.join(' ') };
  else if (portList !== undefined) {
    ports = explicitPorts(portList, protocols);
    if (excludeList !== undefined) ports = withoutPorts(ports, explicitPorts(excludeList, protocols));
  } else ports = { kind: 'top', count: top ?? (fast ? 100 : 1000), protocols };
  return { scanTypes, versionDetection, portSpec: portSpecText(ports), ports, openOnly };
}

/** `-p` value → ranges per protocol. Unprefixed items apply to every scanned protocol, as nmap applies them. */
function explicitPorts(list: string, protocols: readonly ScannedProtocol[]): PortCoverage {
  const raw: Partial<Record<ScannedProtocol, Array<[number, number]>>> = {};
  let current: ScannedProtocol[] | undefined;
  const prefixes: Record<string, ScannedProtocol> = { T: 'tcp', U: 'udp', S: 'sctp', P: 'ip' };
  for (const piece of list.split(',')) {
    let item = piece;
    const prefixed = /^([TUSP]):(.*)$/.exec(item);
    if (prefixed) {
      current = [prefixes[prefixed[1]]];
      item = prefixed[2];
    }
    const max = current?.[0] === 'ip' || (!current && protocols.includes('ip')) ? 255 : 65535;
    const m = /^(\d*)(-?)(\d*)$/.exec(item);
    if (!m || item === '') {
      return {
        kind: 'unknown',
        protocols: [...protocols],
        why: `port list ${JSON.stringify(list)} not understood`,
      };
    }
    const lo = m[1] === '' ? (m[2] ? 1 : NaN) : Number(m[1]);
    const hi = m[3] === '' ? (m[2] ? max : lo) : Number(m[3]);
    for (const protocol of current ?? protocols) {
      // A prefixed list only counts for protocols the run actually scanned (nmap ignores U: without -sU).
      if (!protocols.includes(protocol)) continue;
      (raw[protocol] ??= []).push([lo, hi]);
    }
  }
  const ranges: Partial<Record<ScannedProtocol, PortRanges>> = {};
  for (const protocol of Object.keys(raw) as ScannedProtocol[])
    ranges[protocol] = mergeRanges(raw[protocol]!);
  return { kind: 'explicit', ranges };
}

/** An explicit selection less the explicit ports of `--exclude-ports`; anything else is unknown. */
function withoutPorts(included: PortCoverage, excluded: PortCoverage): PortCoverage {
  if (included.kind !== 'explicit') return included;
  if (excluded.kind !== 'explicit') {
    const protocols = Object.keys(included.ranges) as ScannedProtocol[];
    return { kind: 'unknown', protocols, why: '--exclude-ports list not understood' };
  }
  const ranges: Partial<Record<ScannedProtocol, PortRanges>> = {};
  for (const protocol of Object.keys(included.ranges) as ScannedProtocol[]) {
    let left: Array<[number, number]> = included.ranges[protocol]!.map(([lo, hi]) => [lo, hi]);
    for (const [xlo, xhi] of excluded.ranges[protocol] ?? []) {
      left = left.flatMap(([lo, hi]): Array<[number, number]> => {
        if (xhi < lo || xlo > hi) return [[lo, hi]];
        const rest: Array<[number, number]> = [];
        if (lo < xlo) rest.push([lo, xlo - 1]);
        if (xhi < hi) rest.push([xhi + 1, hi]);
        return rest;
      });
    }
    if (left.length > 0) ranges[protocol] = left;
  }
  return { kind: 'explicit', ranges };
}

function mergeRanges(ranges: Array<[number, number]>): PortRanges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function portSpecText(ports: PortCoverage): string {
  switch (ports.kind) {
    case 'none':
      return 'none';
    case 'top':
      return `${ports.protocols.join('+')}:top ${ports.count}`;
    case 'unknown':
      return `${ports.protocols.join('+')}:unknown${ports.selection ? ` (${ports.selection})` : ''}`;
    case 'explicit':
      return (Object.keys(ports.ranges) as ScannedProtocol[])
        .sort()
        .map(
          (p) =>
            `${p}:${ports.ranges[p]!.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(',')}`,
        )
        .join(' ');
  }
}

/**
 * Whether a run with these options looked at protocol/port: `true`, `false`, or `undefined` when it cannot be
 * told (top-N lists, unknown selections).
 */
export function portScanned(options: ScanOptions, protocol: string, port: number): boolean | undefined {
  const ports = options.ports;
  switch (ports.kind) {
    case 'none':
      return false;
    case 'top':
    case 'unknown':
      return ports.protocols.includes(protocol as ScannedProtocol) ? undefined : false;
    case 'explicit': {
      const ranges = ports.ranges[protocol as ScannedProtocol];
      return ranges ? ranges.some(([lo, hi]) => port >= lo && port <= hi) : false;
    }
  }
}
