// The ports a scan looks at, in a word for its list: the `ports` field, else what its nmap options say.

/**
 * `scan.ports` when set; else the `-p` of its options (a scan started with POST /api/scans/start keeps its ports
 * in `nmap_flags` only), `top N` for `--top-ports N`, `top 100 (-F)` for `-F`, and `default` (nmap's 1,000
 * most common ports) when none of them is there.
 */
export function portsOfScan(scan: { ports?: string | null; nmap_flags?: readonly string[] | null }): string {
  if (scan.ports) return scan.ports;
  const flags = scan.nmap_flags ?? [];
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i];
    const spec = flag === '-p' ? flags[i + 1] : flag.startsWith('-p') ? flag.slice(2) : undefined;
    if (spec) return spec === '-' ? 'all (-p-)' : spec;
    if (flag === '--top-ports' && flags[i + 1]) return `top ${flags[i + 1]}`;
    if (flag.startsWith('--top-ports=')) return `top ${flag.slice('--top-ports='.length)}`;
    if (flag === '-F') return 'top 100 (-F)';
  }
  return 'default';
}
