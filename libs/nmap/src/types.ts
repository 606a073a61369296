// The normalised scan result: what the worker stores and the delta service diffs. Independent of nmap's XML
// shape so the rest of the system never touches xml2js output.

export type NmapProtocol = 'tcp' | 'udp' | 'sctp' | 'ip';

export interface NmapService {
  name?: string;
  product?: string;
  version?: string;
  extrainfo?: string;
  tunnel?: string;
  method?: string;
  conf?: number;
  cpe: string[];
}

/** A port is identified by (protocol, port): tcp/53 and udp/53 are different ports. */
export interface NmapPort {
  protocol: NmapProtocol;
  port: number;
  state: string;
  reason?: string;
  service?: NmapService;
}

export interface NmapOsMatch {
  name: string;
  accuracy: number;
}

export interface NmapHostname {
  name: string;
  type?: string;
}

/** nmap's host states (`<status state=...>`). */
export const NMAP_HOST_STATES = ['up', 'down', 'unknown', 'skipped'] as const;
/** nmap's port states (`<state state=...>`), as its reference guide names them ("Port Scanning Basics"). */
export const NMAP_PORT_STATES = [
  'open',
  'closed',
  'filtered',
  'unfiltered',
  'open|filtered',
  'closed|filtered',
] as const;

/** One `<extraports>` element: `count` ports nmap scanned and left out of the list, all in `state`. */
export interface NmapExtraPorts {
  state: string;
  count: number;
}

export interface NmapHost {
  address: string;
  addressType: 'ipv4' | 'ipv6' | 'mac';
  mac?: string;
  hostnames: NmapHostname[];
  state: 'up' | 'down' | 'unknown' | (string & {});
  reason?: string;
  ports: NmapPort[];
  /**
   * nmap's `<extraports state count>`: the ports of this host it scanned but did not list, by state (e.g.
   * `[{state: 'filtered', count: 997}]`). Absent when nmap listed every port it scanned.
   */
  extraPorts?: NmapExtraPorts[];
  os?: NmapOsMatch[];
  /** Unix seconds, as nmap reports them. */
  startedAt?: number;
  endedAt?: number;
}

export interface NmapScanStats {
  hostsUp: number;
  hostsDown: number;
  hostsTotal: number;
}

export interface NmapScanResult {
  args?: string;
  version?: string;
  /** Unix seconds. */
  startedAt?: number;
  finishedAt?: number;
  /** Seconds, as nmap reports them. */
  elapsed?: number;
  /** nmap's own verdict: "success" or "error". */
  exit?: string;
  /** nmap's error message when exit is "error". */
  errorMessage?: string;
  summary?: string;
  hosts: NmapHost[];
  stats: NmapScanStats;
  /** Number of ports in state "open" across all hosts. */
  openPorts: number;
}

/**
 * Everything of a run but its hosts: what the streaming parser gives at the end of the document, after each
 * <host> went to its handler. `stats` are nmap's own counts when it wrote them, else counted over the hosts;
 * `openPorts` is counted over the hosts.
 */
export type NmapRunSummary = Omit<NmapScanResult, 'hosts'>;

/** The per-batch summary the API's batch_complete event carries. */
export interface NmapResultSummary {
  hosts_up: number;
  open_ports: number;
}
