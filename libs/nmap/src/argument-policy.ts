// The allow-list that user-supplied nmap flags must pass before they reach an argv. Anything that reads or
// writes files, runs NSE scripts, spoofs, relays or crafts packets is refused with a reason naming the option.
// validate() returns a normalised fragment (one argv item per option) so what we run is exactly what we checked.
import { NmapPolicyError } from './errors';

/** Returns why a value is invalid, or undefined when it is fine. */
type ValueCheck = (value: string) => string | undefined;

interface LongRule {
  /** Absent: the option takes no value. */
  value?: ValueCheck;
}

/** The most items `nmap_flags` may hold (docs/nmap-policy.md). */
export const MAX_FLAGS = 100;
/** The longest one item of `nmap_flags` may be, in characters (docs/nmap-policy.md). */
export const MAX_FLAG_LENGTH = 1024;
const MAX_TIME_MS = 24 * 60 * 60 * 1000;
const MAX_RATE = 100_000;

/**
 * Every long option nmap 7.93 knows (nmap.cc), `=` marking those that take a value (required_argument: the rest
 * of the word after `=`, else the next word; `debug` takes one only after `=`). nmap parses with
 * getopt_long_only, so `-name` is read as `--name` and unique prefixes such as `--scr` are accepted: we must
 * recognise both to refuse them. The one table of nmap's options: the policy and readNmapCommandLine (an imported
 * file's `args`) read it; the differential test checks it against the nmap binary.
 */
const NMAP_LONG_TABLE: readonly string[] = [
  'version verbose datadir= servicedb= versiondb= debug help iflist release-memory nogcc max-os-tries=',
  'max-parallelism= min-parallelism= timing= max-rtt-timeout= min-rtt-timeout= initial-rtt-timeout=',
  'excludefile= exclude= max-hostgroup= min-hostgroup= open scanflags= defeat-rst-ratelimit',
  'defeat-icmp-ratelimit host-timeout= scan-delay= max-scan-delay= max-retries= oA= oN= oM= oG= oS= oH= oX=',
  'iL= iR= sI= source-port= randomize-hosts nsock-engine= proxies= proxy= discovery-ignore-rst osscan-limit',
  'osscan-guess fuzzy packet-trace version-trace data= data-string= data-length= send-eth send-ip',
  'stylesheet= no-stylesheet webxml rH vv ff privileged unprivileged mtu= append-output noninteractive',
  'spoof-mac= thc badsum ttl= traceroute reason allports version-intensity= version-light version-all',
  'system-dns resolve-all unique log-errors deprecated-xml-osclass yoloscan dns-servers= port-ratio=',
  'exclude-ports= top-ports= script= script-trace script-updatedb script-args= script-args-file=',
  'script-help= script-timeout= ip-options= min-rate= max-rate= adler32 stats-every= disable-arp-ping',
  'route-dst= resume=',
]
  .join(' ')
  .split(' ');
/** nmap 7.93's long options (NMAP_LONG_TABLE), without the `=` marks. */
export const NMAP_LONG_OPTIONS: readonly string[] = NMAP_LONG_TABLE.map((o) => o.replace(/=$/, ''));
/** Long options that take a value (NMAP_LONG_TABLE's `=`). */
const NMAP_LONG_WITH_VALUE: ReadonlySet<string> = new Set(
  NMAP_LONG_TABLE.filter((o) => o.endsWith('=')).map((o) => o.slice(0, -1)),
);
/**
 * nmap 7.93's short options, its getopt string (nmap.cc, read from the binary): a letter with `:` takes a value
 * (the rest of the word, else the next word), with `::` only the rest of the word (`-d2`, `-PS22`, `-sV`).
 */
const NMAP_SHORT_OPTIONS = '46Ab:D:d::e:Ffg:hIi:M:m:nO::o:P::p:qRrS:s::T:Vv::';

const WRITES_FILES = 'writes files';
const READS_FILES = 'reads files';
const RUNS_SCRIPTS = 'runs NSE scripts';
const CRAFTS_PAYLOADS = 'crafts custom packet payloads';
const FRAGMENTS = 'fragments packets to evade filters';
const NOT_A_SCAN = 'prints information instead of scanning';
const NOT_ALLOWED = 'not on the allow-list';

/** Refused whether written with one dash or two (nmap accepts both): the -o* outputs, -iL, -iR and -sI. */
const REFUSED_EITHER: Readonly<Record<string, string>> = {
  oN: WRITES_FILES,
  oX: WRITES_FILES,
  oG: WRITES_FILES,
  oA: WRITES_FILES,
  oS: WRITES_FILES,
  oM: WRITES_FILES,
  oH: WRITES_FILES,
  iL: 'reads targets from a file',
  iR: 'scans random internet hosts',
  sI: 'idle scan spoofs packets through a zombie host',
};

/** Long options refused with a specific reason (keyed without dashes). */
const REFUSED_LONG: Readonly<Record<string, string>> = {
  ...REFUSED_EITHER,
  'append-output': WRITES_FILES,
  excludefile: 'reads exclusions from a file',
  resume: 'reads a previous output file to resume',
  datadir: 'loads nmap data files and scripts from a directory',
  servicedb: 'reads a services file',
  versiondb: 'reads a service-probes file',
  stylesheet: 'points the XML output at an external stylesheet',
  webxml: 'points the XML output at an external stylesheet',
  script: RUNS_SCRIPTS,
  'source-port': 'spoofs the source port to slip past firewalls',
  proxies: 'relays connections through proxies',
  proxy: 'relays connections through proxies',
  'dns-servers': 'sends DNS queries to arbitrary servers',
  'spoof-mac': 'spoofs the MAC address',
  data: CRAFTS_PAYLOADS,
  'data-string': CRAFTS_PAYLOADS,
  'data-length': CRAFTS_PAYLOADS,
  'ip-options': 'crafts IP options such as source routing',
  mtu: FRAGMENTS,
  ff: FRAGMENTS,
  badsum: 'sends packets with bad checksums',
  privileged: "overrides the worker's privilege detection",
  unprivileged: "overrides the worker's privilege detection",
  exclude: 'takes hosts; scope exclusions belong in SCAN_SCOPE_DENY and targets in "targets"',
  iflist: NOT_A_SCAN,
  help: NOT_A_SCAN,
  version: NOT_A_SCAN,
};

/** Short options refused with a specific reason; two-letter names are matched before one-letter ones. */
const REFUSED_SHORT: Readonly<Record<string, string>> = {
  ...REFUSED_EITHER,
  sC: RUNS_SCRIPTS,
  o: WRITES_FILES,
  m: WRITES_FILES,
  i: READS_FILES,
  A: 'runs NSE scripts (-A implies -sC); ask for -sV, -O and --traceroute separately',
  S: 'spoofs the source address',
  e: 'picks the network interface, which belongs to the worker host',
  D: 'sends decoy packets from spoofed addresses',
  b: 'FTP bounce relays the scan through a third-party server',
  g: 'spoofs the source port to slip past firewalls',
  f: FRAGMENTS,
  h: NOT_A_SCAN,
  V: NOT_A_SCAN,
};

const intIn =
  (min: number, max: number): ValueCheck =>
  (v) =>
    /^\d{1,9}$/.test(v) && Number(v) >= min && Number(v) <= max
      ? undefined
      : `must be an integer from ${min} to ${max}`;

const rate: ValueCheck = (v) =>
  /^\d{1,9}(\.\d{1,3})?$/.test(v) && Number(v) > 0 && Number(v) <= MAX_RATE
    ? undefined
    : `must be a number of packets per second above 0 and at most ${MAX_RATE}`;

/** nmap 7.93 refuses 1 itself: "--port-ratio should be between [0 and 1)". */
const ratio: ValueCheck = (v) =>
  /^\d(\.\d{1,6})?$/.test(v) && Number(v) >= 0 && Number(v) < 1
    ? undefined
    : 'must be a number from 0 up to (not including) 1';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** nmap time values: a number with an optional unit ms/s/m/h (a plain number is seconds). */
const time =
  (minMs = 0): ValueCheck =>
  (v) => {
    const m = /^(\d{1,9}(?:\.\d{1,3})?)(ms|s|m|h)?$/.exec(v);
    const ms = m ? Number(m[1]) * UNIT_MS[m[2] ?? 's'] : NaN;
    if (!(ms >= minMs && ms <= MAX_TIME_MS)) {
      return `must be a time such as 500ms, 30s, 5m or 1h, from ${minMs}ms to 24h`;
    }
    return undefined;
  };

/**
 * nmap port lists, numeric forms only: `22`, `1-1024`, `-1024`, `1024-`, `-` (all), comma-separated, with
 * optional `T:`/`U:`/`S:`/`P:` protocol prefixes when `prefixes` is set. Service names and wildcards are refused
 * so the value can never be read as anything but numbers.
 */
function portListProblem(v: string, opts: { prefixes: boolean; max: number }): string | undefined {
  const usage = opts.prefixes
    ? 'must be a port list such as 22,80,8000-8100 or T:53,U:53 (numbers and ranges only)'
    : `must be a list of numbers or ranges from 0 to ${opts.max} such as 22,80,443`;
  if (v.length === 0 || v.length > MAX_FLAG_LENGTH) return usage;
  let max = opts.max;
  for (const raw of v.split(',')) {
    let item = raw;
    const prefixed = /^([TUSP]):(.*)$/.exec(item);
    if (prefixed) {
      if (!opts.prefixes) return usage;
      max = prefixed[1] === 'P' ? 255 : 65535;
      item = prefixed[2];
    }
    if (item === '-') continue;
    const m = /^(\d{1,5})?(-)?(\d{1,5})?$/.exec(item);
    if (!m || item === '' || (m[2] === undefined && m[3] !== undefined)) return usage;
    const lo = m[1] === undefined ? 0 : Number(m[1]);
    const hi = m[3] === undefined ? (m[2] ? max : lo) : Number(m[3]);
    if (lo > max || hi > max || lo > hi) return usage;
  }
  return undefined;
}

const portList: ValueCheck = (v) => portListProblem(v, { prefixes: true, max: 65535 });

/** Long options that pass, with the form of their value. */
const ALLOWED_LONG: Readonly<Record<string, LongRule>> = {
  // ports
  'top-ports': { value: intIn(1, 65535) },
  'exclude-ports': { value: portList },
  'port-ratio': { value: ratio },
  allports: {},
  // host discovery
  'disable-arp-ping': {},
  'discovery-ignore-rst': {},
  traceroute: {},
  'system-dns': {},
  'resolve-all': {},
  unique: {},
  'randomize-hosts': {},
  // service and OS detection
  'version-intensity': { value: intIn(0, 9) },
  'version-light': {},
  'version-all': {},
  'version-trace': {},
  'osscan-limit': {},
  'osscan-guess': {},
  'max-os-tries': { value: intIn(1, 50) },
  // timing and performance
  'max-retries': { value: intIn(0, 10) },
  'host-timeout': { value: time() },
  'scan-delay': { value: time() },
  'max-scan-delay': { value: time() },
  'min-rtt-timeout': { value: time() },
  'max-rtt-timeout': { value: time(5) },
  'initial-rtt-timeout': { value: time(1) },
  'min-rate': { value: rate },
  'max-rate': { value: rate },
  'min-parallelism': { value: intIn(1, 1024) },
  'max-parallelism': { value: intIn(1, 1024) },
  'min-hostgroup': { value: intIn(1, 65536) },
  'max-hostgroup': { value: intIn(1, 65536) },
  'defeat-rst-ratelimit': {},
  'defeat-icmp-ratelimit': {},
  ttl: { value: intIn(1, 255) },
  // output shown on the live stream (never files)
  open: {},
  reason: {},
  'packet-trace': {},
  'stats-every': { value: time(1000) },
  noninteractive: {},
};

/** -s<letter> scan types that pass. -sI (idle, spoofing) and -sC (scripts) are refused with reasons. */
const SCAN_TYPES = new Set(['S', 'T', 'U', 'A', 'W', 'M', 'N', 'F', 'X', 'n', 'L', 'Y', 'Z', 'O', 'V']);

/** Options without a value that pass as written. */
const PLAIN_SHORT = new Set(['-F', '-r', '-n', '-R', '-O', '-4', '-6', '-Pn', '-PE', '-PP', '-PM', '-PR']);

const TIMING_NAMES: Readonly<Record<string, string>> = {
  paranoid: '0',
  sneaky: '1',
  polite: '2',
  normal: '3',
  aggressive: '4',
  insane: '5',
};

/** Record lookup that ignores inherited keys, so "constructor" or "__proto__" never match a rule. */
function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

function refuse(option: string, reason: string, options?: string[]): never {
  throw new NmapPolicyError(
    `nmap option ${JSON.stringify(option)} is not allowed: ${reason}`,
    option,
    options,
  );
}

function badValue(option: string, value: string, why: string): never {
  throw new NmapPolicyError(
    `nmap option ${JSON.stringify(option)} has an invalid value ${JSON.stringify(value)}: ${why}`,
    option,
  );
}

function checkText(item: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(item))
    refuse(item, 'contains a NUL, line break or other control character');
  if (item.length > MAX_FLAG_LENGTH)
    refuse(item.slice(0, 40), `is longer than ${MAX_FLAG_LENGTH} characters`);
}

function reasonForLong(name: string): string {
  const specific = own(REFUSED_LONG, name);
  if (specific) return specific;
  if (name.startsWith('script')) return RUNS_SCRIPTS;
  const expansions = NMAP_LONG_OPTIONS.filter((o) => o.startsWith(name));
  if (name.length > 0 && expansions.length > 0 && !expansions.includes(name)) {
    const target = expansions[0];
    const why = own(REFUSED_LONG, target) ?? (target.startsWith('script') ? RUNS_SCRIPTS : undefined);
    return `abbreviates "--${target}"; spell options in full${why ? ` (and "--${target}" ${why})` : ''}`;
  }
  return NOT_ALLOWED;
}

/** Pulls the value of an option given as a separate argv item. */
type TakeNext = (option: string) => string;

export class NmapArgumentPolicy {
  /**
   * Checks user-supplied nmap flags against the allow-list and returns the normalised argv fragment.
   * Throws NmapPolicyError on the first refused option. Targets never belong here.
   */
  validate(flags: readonly string[]): string[] {
    if (!Array.isArray(flags)) throw new NmapPolicyError('nmap flags must be an array of strings', '');
    if (flags.length > MAX_FLAGS) {
      throw new NmapPolicyError(
        `too many nmap flags: ${flags.length} (at most ${MAX_FLAGS})`,
        String(flags[MAX_FLAGS]),
      );
    }
    const out: string[] = [];
    let i = 0;
    const take: TakeNext = (option) => {
      if (i + 1 >= flags.length) refuse(option, 'requires a value');
      i += 1;
      const value = flags[i];
      if (typeof value !== 'string') refuse(option, 'requires a string value');
      checkText(value);
      return value;
    };
    for (; i < flags.length; i++) {
      const item = flags[i];
      if (typeof item !== 'string') refuse(String(item), 'is not a string');
      checkText(item);
      if (item === '--') refuse(item, 'the runner adds "--" itself, right before the targets');
      if (!item.startsWith('-') || item === '-') {
        refuse(item, 'is not an option; targets go in "targets", not in the flags');
      }
      out.push(...(item.startsWith('--') ? this.long(item.slice(2), '--', take) : this.short(item, take)));
    }
    checkConflicts(out);
    return out;
  }

  private long(body: string, dashes: string, take: TakeNext): string[] {
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const attached = eq === -1 ? undefined : body.slice(eq + 1);
    const option = dashes + name;
    const rule = own(ALLOWED_LONG, name);
    // `--vv` is nmap's long option vv: `-vv`.
    if (name === 'vv' && attached === undefined) return ['-vv'];
    if (!rule) refuse(option, reasonForLong(name));
    if (!rule.value) {
      if (attached !== undefined) refuse(option, 'takes no value');
      return [`--${name}`];
    }
    const value = attached ?? take(option);
    const why = rule.value(value);
    if (why) badValue(option, value, why);
    return [`--${name}=${value}`];
  }

  private short(item: string, take: TakeNext): string[] {
    const body = item.slice(1);
    const name = body.split('=')[0];
    // getopt_long_only reads "-name" as the long option it equals or abbreviates (e.g. -script, -iflist, -oX).
    if (name.length >= 2 && NMAP_LONG_OPTIONS.some((o) => o.startsWith(name))) {
      if (body === 'vv') return ['-vv'];
      if (NMAP_LONG_OPTIONS.includes(name) && own(ALLOWED_LONG, name)) return this.long(body, '-', take);
      refuse(`-${name}`, own(REFUSED_SHORT, name) ?? reasonForLong(name));
    }
    if (PLAIN_SHORT.has(item)) return [item];
    const letter = item[1];
    switch (letter) {
      case 's':
        return this.scanTypes(item);
      case 'p': {
        const value = item.length > 2 ? item.slice(2) : take('-p');
        const why = portList(value);
        if (why) badValue('-p', value, why);
        return [`-p${value}`];
      }
      case 'T':
        return [this.timing(item.length > 2 ? item.slice(2) : take('-T'))];
      case 'P':
        return [this.discovery(item)];
      case 'v':
        if (/^-v(v{0,3}|[0-4])$/.test(item)) return [item];
        break;
      case 'd':
        if (/^-(d|dd|d[0-2])$/.test(item)) return [item];
        if (/^-(d{3,}|d\d+)$/.test(item)) refuse(item, 'debug levels above 2 flood the live output');
        break;
    }
    const two = own(REFUSED_SHORT, item.slice(1, 3));
    if (two && item.length >= 3) refuse(item.slice(0, 3), two);
    const one = own(REFUSED_SHORT, letter);
    if (one) refuse(item.slice(0, 2), one);
    refuse(item, NOT_ALLOWED);
  }

  /** `-sS`, and combined forms such as `-sSV`, become one item per scan type. */
  private scanTypes(item: string): string[] {
    const letters = item.slice(2);
    if (letters.length === 0) refuse('-s', 'needs a scan type, such as -sS or -sT');
    return [...letters].map((ch) => {
      const option = `-s${ch}`;
      const refused = own(REFUSED_SHORT, `s${ch}`);
      if (refused) refuse(option, refused);
      if (!SCAN_TYPES.has(ch)) refuse(option, NOT_ALLOWED);
      return option;
    });
  }

  private timing(value: string): string {
    const level = own(TIMING_NAMES, value) ?? value;
    if (level === '5') {
      refuse(
        `-T${value}`,
        'insane timing gives up on slow replies and floods networks; use -T4 with --min-rate',
      );
    }
    if (!/^[0-4]$/.test(level))
      badValue('-T', value, 'must be 0-4 or paranoid, sneaky, polite, normal, aggressive');
    return `-T${level}`;
  }

  /** -PS/-PA/-PU/-PY take an attached port list, -PO an attached protocol list; nmap reads nothing detached. */
  private discovery(item: string): string {
    const kind = item.slice(0, 3);
    const value = item.slice(3);
    if (['-PS', '-PA', '-PU', '-PY', '-PO'].includes(kind)) {
      if (value === '') return kind;
      const max = kind === '-PO' ? 255 : 65535;
      const why = portListProblem(value, { prefixes: false, max });
      if (why) badValue(kind, value, why);
      return item;
    }
    refuse(item, NOT_ALLOWED);
  }
}

const TCP_SCAN_TYPES = ['-sA', '-sT', '-sF', '-sM', '-sN', '-sS', '-sW', '-sX'];
const PORT_SCAN_TYPES = [...TCP_SCAN_TYPES, '-sU', '-sY', '-sZ', '-sO'];

/** The option name of a normalised item: `-p22` → `-p`, `--min-rate=10` → `--min-rate`, `-PS22` → `-PS`. */
function optionName(item: string): string {
  if (item.startsWith('--')) return item.split('=')[0];
  if (/^-P[SAUYO]/.test(item)) return item.slice(0, 3);
  if (item.startsWith('-p')) return '-p';
  return item;
}

/** The value of a normalised item (`-p22` → `22`, `--min-rate=10` → `10`). */
function optionValue(item: string): string {
  if (item.startsWith('--')) return item.slice(item.indexOf('=') + 1);
  return item.startsWith('-p') ? item.slice(2) : item.slice(3);
}

/** nmap takes these once: a second one is "Only 1 -p option allowed" / "Only one -PS option is allowed". */
const ONCE_ONLY = ['-p', '--exclude-ports', '-PS', '-PA', '-PU', '-PY', '-PO'];

/** Pairs nmap refuses when the first is above the second (numbers; times are not compared by nmap 7.93). */
const MIN_MAX_PAIRS: ReadonlyArray<[string, string]> = [
  ['--min-rate', '--max-rate'],
  ['--min-parallelism', '--max-parallelism'],
  ['--min-hostgroup', '--max-hostgroup'],
];

/**
 * Combinations nmap 7.93 rejects at start-up ("QUITTING!", exit 1, no scan). Caught here they become a 400 at
 * submission instead of a batch that fails on every worker and every retry. The list is checked against real
 * nmap by the differential test (argument-policy.differential.e2e-spec.ts); it assumes the worker may send raw
 * packets (root or CAP_NET_RAW), so that nmap's default scan type is SYN.
 */
function checkConflicts(flags: readonly string[]): void {
  const names = flags.map(optionName);
  const has = (name: string): boolean => names.includes(name);
  const first = (set: readonly string[], except?: string): string | undefined =>
    flags.find((f) => set.includes(f) && f !== except);
  const conflict = (option: string, other: string, why: string): never =>
    refuse(option, `conflicts with ${JSON.stringify(other)} (${why})`, [option, other]);

  for (const name of ONCE_ONLY) {
    if (names.filter((n) => n === name).length > 1) {
      refuse(name, `is given twice; nmap takes it once (combine the lists with commas)`, [name]);
    }
  }
  if (has('-4') && has('-6')) conflict('-6', '-4', 'nmap scans one address family per run');

  const tcp = flags.filter((f) => TCP_SCAN_TYPES.includes(f));
  if (new Set(tcp).size > 1) {
    conflict(tcp.find((f) => f !== tcp[0]) as string, tcp[0], 'nmap runs one TCP scan type at a time');
  }
  const ipProto = first(['-sO']);
  const otherPortScan = ipProto && first(PORT_SCAN_TYPES, '-sO');
  if (ipProto && otherPortScan) conflict(otherPortScan, ipProto, 'the IP protocol scan must run alone');
  const noPorts = first(['-sn', '-sL']);
  const portScan = first(PORT_SCAN_TYPES);
  if (noPorts && portScan) conflict(portScan, noPorts, `${noPorts} does not scan ports`);
  if (noPorts && has('-p')) conflict('-p', noPorts, `${noPorts} does not scan ports`);
  if (noPorts && has('-F')) conflict('-F', noPorts, `${noPorts} does not scan ports`);
  if (noPorts && has('-O'))
    conflict('-O', noPorts, `OS detection needs a port scan, and ${noPorts} does not scan ports`);
  if (has('-p') && has('-F')) conflict('-F', '-p', 'choose either -F or -p');

  if (ipProto) {
    // With -sO, unprefixed numbers in -p and --exclude-ports are IP protocol numbers.
    for (const item of flags.filter((f) => ['-p', '--exclude-ports'].includes(optionName(f)))) {
      const value = optionValue(item);
      const tooHigh = value
        .split(',')
        .filter((part) => !/^[TUSP]:/.test(part))
        .some((part) => part.split('-').some((n) => n !== '' && Number(n) > 255));
      if (tooHigh) {
        conflict(optionName(item), '-sO', `with -sO, ${optionName(item)} lists IP protocols, 0-255`);
      }
    }
  }

  for (const [min, max] of MIN_MAX_PAIRS) {
    const low = flags.filter((f) => optionName(f) === min).pop();
    const high = flags.filter((f) => optionName(f) === max).pop();
    if (low && high && Number(optionValue(low)) > Number(optionValue(high))) {
      conflict(min, max, `${low} is above ${high}`);
    }
  }

  if (flags.includes('--defeat-icmp-ratelimit') && !flags.includes('-sU')) {
    refuse('--defeat-icmp-ratelimit', 'works only with a UDP scan (-sU)');
  }
  // nmap's default scan type (no scan type given at all) is SYN for a privileged worker.
  const synScan = flags.includes('-sS') || (!noPorts && !portScan);
  if (flags.includes('--defeat-rst-ratelimit') && !synScan) {
    refuse('--defeat-rst-ratelimit', 'works only with a SYN scan (-sS, or no scan type: SYN is the default)');
  }
}

/** One option of an nmap command line as nmap 7.93 reads it (readNmapCommandLine). */
export interface NmapCommandLineOption {
  /**
   * The option: a long one in full with two dashes (`--min-rate`, `--oX`, `--vv`: getopt_long_only reads
   * `-min-rate`, `-oX` and a unique abbreviation such as `--top` the same), a short one as `-x` (`-p`, `-T`, `-s`).
   * An option nmap does not know, or an ambiguous abbreviation, as written (nmap refused it).
   */
  name: string;
  /** Its value (after `=`, attached to a short option, or the next word), or undefined. */
  value?: string;
  /**
   * The option as one argv item, in the form NmapArgumentPolicy reads: `--min-rate=5000`, `-p38480`, `-T4`,
   * `-sTV`, `-vv`, `--open`.
   */
  item: string;
}

type ShortKind = 'none' | 'required' | 'attached';

/** What nmap's getopt string says of a letter: no value, a value (attached or next word), attached only. */
function shortKind(letter: string): ShortKind | undefined {
  const at = NMAP_SHORT_OPTIONS.indexOf(letter);
  if (letter === ':' || letter === '' || at === -1) return undefined;
  if (NMAP_SHORT_OPTIONS.startsWith('::', at + 1)) return 'attached';
  return NMAP_SHORT_OPTIONS[at + 1] === ':' ? 'required' : 'none';
}

/** A long option's full name: the exact one, else the only one it abbreviates; `ambiguous`, or undefined. */
function longOptionNamed(written: string): string | undefined {
  if (NMAP_LONG_OPTIONS.includes(written)) return written;
  const expansions = NMAP_LONG_OPTIONS.filter((o) => written !== '' && o.startsWith(written));
  return expansions.length === 1 ? expansions[0] : expansions.length > 1 ? 'ambiguous' : undefined;
}

/**
 * Reads an nmap command line (the words after the program's name: an imported file's `<nmaprun args>`) as nmap
 * 7.93's getopt_long_only does, with the option tables above (NMAP_LONG_TABLE, NMAP_SHORT_OPTIONS): every option
 * with its value, whichever way it was written (`--min-rate 5000`, `--min-rate=5000`, `-min-rate 5000`, `-p 80`,
 * `-p80`, `-T4`, `-oX -`: the value word is taken even when it starts with `-`), bundled short options one by
 * one (`-nv` → `-n`, `-v`; `-Pn` is -P with `n`), and the operands (targets, and every word after `--`). Never
 * throws: what nmap would refuse comes back as an option NmapArgumentPolicy refuses.
 */
export function readNmapCommandLine(argv: readonly string[]): {
  options: NmapCommandLineOption[];
  operands: string[];
} {
  const options: NmapCommandLineOption[] = [];
  const operands: string[] = [];
  const long = (name: string, value?: string) =>
    options.push({ name, value, item: value === undefined ? name : `${name}=${value}` });
  const short = (letter: string, value?: string) =>
    options.push({ name: `-${letter}`, value, item: `-${letter}${value ?? ''}` });
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      operands.push(word);
      continue;
    }
    const next = (): string | undefined => (i + 1 < argv.length ? argv[++i] : undefined);
    const dashes = word.startsWith('--') ? 2 : 1;
    const body = word.slice(dashes);
    // getopt_long_only tries a long option first, but for one dash and one letter that is a short option.
    if (dashes === 2 || body.length > 1 || shortKind(body) === undefined) {
      const eq = body.indexOf('=');
      const named = longOptionNamed(eq === -1 ? body : body.slice(0, eq));
      if (named === 'ambiguous' || (named === undefined && (dashes === 2 || !shortKind(body[0])))) {
        options.push({ name: word, item: word });
        continue;
      }
      if (named === 'vv' && eq === -1) {
        options.push({ name: '--vv', item: '-vv' });
        continue;
      }
      if (named !== undefined) {
        const value = eq !== -1 ? body.slice(eq + 1) : NMAP_LONG_WITH_VALUE.has(named) ? next() : undefined;
        long(`--${named}`, value);
        continue;
      }
    }
    // Short options, bundled: each letter, until one that takes the rest of the word (or the next word).
    for (let j = 1; j < word.length; j++) {
      const letter = word[j];
      const kind = shortKind(letter);
      const rest = word.slice(j + 1);
      if (kind === undefined) {
        options.push({ name: `-${letter}`, item: `-${letter}${rest}` });
        break;
      }
      if (kind === 'none') {
        short(letter);
        continue;
      }
      short(letter, rest !== '' ? rest : kind === 'required' ? next() : undefined);
      break;
    }
  }
  return { options, operands };
}

const defaultPolicy = new NmapArgumentPolicy();

/** Function form of NmapArgumentPolicy#validate. */
export function validateNmapFlags(flags: readonly string[]): string[] {
  return defaultPolicy.validate(flags);
}

/**
 * Validates a stand-alone port list (the API's `ports` field) with the same rules as `-p`, and returns it.
 * Throws NmapPolicyError naming "-p".
 */
export function validatePortSpec(spec: string): string {
  if (typeof spec !== 'string') badValue('-p', String(spec), 'must be a string');
  checkText(spec);
  const why = portList(spec);
  if (why) badValue('-p', spec, why);
  return spec;
}

/** Copies an environment without the variables that point nmap at other data files or privileges. */
export const SAFE_NMAP_ENV = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
  const safe: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    const upper = key.toUpperCase();
    if (upper === 'NMAPDIR' || upper.startsWith('NMAP_')) continue;
    safe[key] = value;
  }
  return safe;
};
