// Option sets drawn from the allow-list, for the differential test that compares NmapArgumentPolicy with what
// nmap 7.93 itself starts with. Deterministic: the same seed gives the same sets, so a failure can be replayed.

/** One option with the values it is drawn with (none: a plain option). Values follow the documented forms. */
interface OptionForm {
  option: string;
  values?: readonly string[];
}

/** Every option of docs/nmap-policy.md's allow-list, with values drawn from each of its value forms. */
export const OPTION_FORMS: readonly OptionForm[] = [
  ...[
    '-sS',
    '-sT',
    '-sU',
    '-sA',
    '-sW',
    '-sM',
    '-sN',
    '-sF',
    '-sX',
    '-sY',
    '-sZ',
    '-sO',
    '-sn',
    '-sL',
    '-sV',
  ].map((option) => ({ option })),
  { option: '--version-intensity', values: ['0', '9'] },
  { option: '--version-light' },
  { option: '--version-all' },
  { option: '--version-trace' },
  { option: '-O' },
  { option: '--osscan-limit' },
  { option: '--osscan-guess' },
  { option: '--max-os-tries', values: ['1', '50'] },
  // The one port, in every port-list form: plain, range, open-ended, all, and each protocol prefix.
  { option: '-p', values: ['9', '1-9', '-9', '65530-', '-', 'T:9', 'U:9', 'S:9', 'P:9', 'T:9,U:9', '300'] },
  { option: '--exclude-ports', values: ['9', '1-9', 'T:9', 'U:9', 'P:9', '-'] },
  { option: '--top-ports', values: ['1', '10'] },
  { option: '--port-ratio', values: ['0', '0.5', '1'] },
  { option: '-F' },
  { option: '-r' },
  { option: '--allports' },
  { option: '-T', values: ['2', '3', '4', 'aggressive', 'normal'] },
  ...['-Pn', '-PE', '-PP', '-PM', '-PR'].map((option) => ({ option })),
  ...['-PS', '-PA', '-PU', '-PY'].map((option) => ({ option })),
  { option: '-PS9' },
  { option: '-PA1-9' },
  { option: '-PU9' },
  { option: '-PY9' },
  { option: '-PO' },
  { option: '-PO1,2' },
  { option: '-n' },
  { option: '-R' },
  { option: '--system-dns' },
  { option: '--resolve-all' },
  { option: '--unique' },
  { option: '--disable-arp-ping' },
  { option: '--discovery-ignore-rst' },
  { option: '--traceroute' },
  { option: '--randomize-hosts' },
  { option: '-4' },
  { option: '-6' },
  { option: '--max-retries', values: ['0', '10'] },
  { option: '--host-timeout', values: ['0', '30s', '1h'] },
  { option: '--scan-delay', values: ['0', '10ms', '1s'] },
  { option: '--max-scan-delay', values: ['0', '5ms', '1s'] },
  { option: '--min-rtt-timeout', values: ['0', '100ms', '20s'] },
  { option: '--max-rtt-timeout', values: ['5ms', '1s', '20s'] },
  { option: '--initial-rtt-timeout', values: ['1ms', '1s', '20s'] },
  { option: '--min-rate', values: ['0.5', '10', '100000'] },
  { option: '--max-rate', values: ['0.5', '10', '100000'] },
  { option: '--min-parallelism', values: ['1', '10', '1024'] },
  { option: '--max-parallelism', values: ['1', '10', '1024'] },
  { option: '--min-hostgroup', values: ['1', '10', '65536'] },
  { option: '--max-hostgroup', values: ['1', '10', '65536'] },
  { option: '--defeat-rst-ratelimit' },
  { option: '--defeat-icmp-ratelimit' },
  { option: '--ttl', values: ['1', '255'] },
  ...['-v', '-vv', '-v0', '-v2', '-d', '-d0', '-dd'].map((option) => ({ option })),
  { option: '--open' },
  { option: '--reason' },
  { option: '--packet-trace' },
  { option: '--noninteractive' },
  { option: '--stats-every', values: ['1s', '1h'] },
];

/**
 * Pairs nmap 7.93 is known to refuse, or to treat specially, at start-up; the generator always includes each
 * (in both orders), so the test covers them whatever the seed draws.
 */
export const KNOWN_CONFLICTS: readonly (readonly string[])[] = [
  ['-sS', '-sT'],
  ['-sA', '-sX'],
  ['-sO', '-sU'],
  ['-sO', '-sS'],
  ['-sO', '-sY'],
  ['-sO', '-p', '1000'],
  ['-sO', '-p', '300'],
  ['-sO', '-p', 'T:9'],
  ['-sn', '-sT'],
  ['-sn', '-sL'],
  ['-sL', '-sU'],
  ['-sn', '-F'],
  ['-sn', '-p', '9'],
  ['-sL', '-p', '9'],
  ['-sn', '--top-ports', '10'],
  ['-sn', '--exclude-ports', '9'],
  ['-sn', '-O'],
  ['-sL', '-O'],
  ['-sn', '-sV'],
  ['-F', '-p', '9'],
  ['-p', '80', '-p', '443'],
  ['--exclude-ports', '9', '--exclude-ports', '1-9'],
  ['-p', '9', '--exclude-ports', '9'],
  ['-p', 'T:9', '--exclude-ports', '1-9'],
  ['--exclude-ports', '-'],
  ['-sU', '-p', 'T:9'],
  ['-sT', '-p', 'U:9'],
  ['-sT', '-p', 'P:9'],
  ['--min-rate', '10', '--max-rate', '1'],
  ['--max-rate', '1', '--min-rate', '10'],
  ['--min-parallelism', '10', '--max-parallelism', '2'],
  ['--max-parallelism', '2', '--min-parallelism', '10'],
  ['--min-hostgroup', '10', '--max-hostgroup', '2'],
  ['--max-hostgroup', '2', '--min-hostgroup', '10'],
  ['--min-rtt-timeout', '2s', '--max-rtt-timeout', '1s'],
  ['--max-rtt-timeout', '1s', '--min-rtt-timeout', '2s'],
  ['--initial-rtt-timeout', '5s', '--max-rtt-timeout', '1s'],
  ['--initial-rtt-timeout', '1ms', '--min-rtt-timeout', '1s'],
  ['--scan-delay', '1s', '--max-scan-delay', '10ms'],
  ['--max-scan-delay', '10ms', '--scan-delay', '1s'],
  ['--defeat-icmp-ratelimit', '-sT'],
  ['--defeat-icmp-ratelimit', '-sU'],
  ['-6'],
  ['-4', '-6'],
  ['-6', '-4'],
  ['-O', '-sL'],
  ['--top-ports', '10', '-p', '9'],
  ['--top-ports', '10', '--port-ratio', '0.5'],
  ['-F', '--top-ports', '10'],
  ['-sY', '-PR'],
  ['-PR', '-6'],
  ['-sO', '-sV'],
  ['-sL', '--traceroute'],
];

/** A small, fast deterministic PRNG (mulberry32): the same seed always draws the same sets. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function draw(form: OptionForm, random: () => number): string[] {
  if (!form.values) return [form.option];
  const value = form.values[Math.floor(random() * form.values.length)];
  return [form.option, value];
}

/**
 * `count` option sets: every known conflict first, then random sets of 1–3 options drawn from OPTION_FORMS
 * (an option may be drawn twice: repeats are part of what is tested). Each set is an argv fragment.
 */
export function generateOptionSets(count: number, seed: number): string[][] {
  const random = seededRandom(seed);
  const sets: string[][] = KNOWN_CONFLICTS.map((set) => [...set]);
  const seen = new Set(sets.map((s) => s.join(' ')));
  let guard = 0;
  while (sets.length < count && guard++ < count * 20) {
    const size = 1 + Math.floor(random() * 3);
    const set: string[] = [];
    for (let i = 0; i < size; i++) {
      set.push(...draw(OPTION_FORMS[Math.floor(random() * OPTION_FORMS.length)], random));
    }
    const key = set.join(' ');
    if (seen.has(key)) continue;
    seen.add(key);
    sets.push(set);
  }
  return sets.slice(0, count);
}
