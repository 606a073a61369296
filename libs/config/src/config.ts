// The process configuration: read once from the environment at start-up, validated into one typed object.
// A missing or malformed variable stops the process with a message that names it.
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';

export type NodeEnv = 'development' | 'production' | 'test';

export interface AppConfig {
  nodeEnv: NodeEnv;
  host: string;
  port: number;
  redisUrl: string;
  /** Prefix of every Redis key, BullMQ queue and pub/sub channel this deployment uses. */
  redisPrefix: string;
  databaseUrl: string;
  /** PostgreSQL schema for every table (optional; the connection's default schema otherwise). */
  databaseSchema?: string;
  /** PostgreSQL connections per process at most. */
  databasePoolMax: number;
  scanScopeAllow: string[];
  scanScopeDeny: string[];
  nmapPath: string;
  /** Upper bound on one `POST /api/nmap/run` process, in milliseconds. */
  nmapRunTimeoutMs: number;
  /** `POST /api/nmap/run` processes one user may have running at once on one gateway (more: 429). */
  nmapRunMaxPerUser: number;
  /**
   * How often a worker's nmap reports its progress (`--stats-every`, added unless the scan's options carry
   * their own), in seconds: each report becomes a `progress` event (at most one per batch per second).
   */
  nmapStatsEverySeconds: number;
  workerId: string;
  workerConcurrency: number;
  /** BullMQ lock duration: how soon a killed worker's batch is picked up again. */
  workerLockMs: number;
  batchAttempts: number;
  /**
   * A batch whose nmap reports no progress (no new host, task or higher percent in its XML) for this long, in
   * seconds, is stopped and its attempt fails, so it is retried (BATCH_STALL_SECONDS, default 600).
   */
  batchStallSeconds: number;
  /** Whether a straggler batch is split when the rest of its run is done and a worker is idle (BATCH_SPLIT). */
  batchSplit: boolean;
  /** A straggler is split only when nmap has at least this many seconds left by its estimate (BATCH_SPLIT_MIN_SECONDS). */
  batchSplitMinSeconds: number;
  eventLogMax: number;
  /** The largest nmap XML file `POST /api/scans/{id}/results/import` reads, in bytes (after decompression). */
  importMaxBytes: number;
  /** How often a quiet SSE stream gets a comment line, in milliseconds, so proxies and clients keep it open. */
  sseKeepAliveMs: number;
  /**
   * Bytes written to one scan event subscriber (WebSocket or SSE) and not yet taken by it past which it is dropped
   * (4408 / `event: dropped`) instead of buffered without bound (SUBSCRIBER_MAX_BUFFERED_KIB × 1024).
   */
  subscriberMaxBufferedBytes: number;
  jobRetentionCount: number;
  /** How often the workers reconcile queued and running runs with what Redis holds (RunReconciler). */
  reconcileIntervalMs: number;
  /**
   * How long one minute of a schedule's interval_minutes lasts, in milliseconds: 60000. TEST-ONLY: tests shorten
   * it so that schedules fire in seconds; a deployment never sets it.
   */
  scheduleMinuteMs: number;
  /**
   * TEST-ONLY: how long the delta service waits between diffing a run and storing its report, in milliseconds, so
   * a test can kill it mid-job. 0 (the default) in every deployment.
   */
  deltaHoldMs: number;
  logLevel: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  /** Created at start-up when no user of that name exists and a password is given. */
  adminUsername: string;
  adminPassword?: string;
  adminEmail?: string;
  /** Default: open when the gateway listens on loopback only (`npm start`), closed otherwise. */
  registrationOpen: boolean;
  /** Idle lifetime of a session without "remember", and the lifetime of a remembered one. */
  sessionTtlSeconds: number;
  rememberTtlSeconds: number;
  /** Origins (scheme://host[:port]) that may send cookie-authenticated state changes; empty = the request's own. */
  publicOrigins: string[];
  /** Express "trust proxy": how client IPs and TLS are read behind a load balancer. */
  trustProxy: boolean | number | string;
  /** Scanner clients (docs/clients.md). */
  clients: {
    /** A client with no heartbeat for this long is `offline`, in milliseconds (CLIENT_OFFLINE_AFTER, seconds). */
    offlineAfterMs: number;
    /** Requests one client may make to its anonymous client routes per rate-limit window. */
    perClientPerWindow: number;
    /** Anonymous client-route requests one source network may make per window, all client ids together. */
    perNetworkPerWindow: number;
    /** New client ids one source network may enrol per window (registration floods). */
    enrolPerNetworkPerWindow: number;
    /** An HTTP agent's task without results fails after this long, in milliseconds (AGENT_TASK_TIMEOUT, seconds). */
    agentTaskTimeoutMs: number;
    /** How long the server waits for an agent to answer a push (/scan, /approve, /cancel), in milliseconds. */
    agentPushTimeoutMs: number;
    /** CIDRs the server may push to (an agent's ip_address); anything else is never contacted. */
    agentPushAllow: string[];
    /** Addresses per agent task (AGENT_TASK_TARGETS); 0: the run's chunk_size, as for worker batches. */
    agentTaskTargets: number;
  };
  /** The worker pool (scanner client) this worker process belongs to; replicas with one id share one record. */
  workerClientId: string;
  /** CIDRs the pool scans; defaults to the scan scope's allowed list. */
  workerScanRange: string[];
  /** Approve a worker pool seen for the first time. Default: on when HOST is loopback (the single machine). */
  workerAutoApprove: boolean;
  /**
   * The built dashboard (`vite build` output: index.html and assets/), served by the gateway when its
   * index.html exists (WEB_DIST_DIR, default `dist/web` of the working directory); absolute.
   */
  webDistDir: string;
  /** Prometheus metrics of this process (docs/monitoring.md): port 0 = none. */
  metrics: { port: number; host: string };
  /** Webhooks on delta reports (docs/notifications.md "Webhooks"). */
  webhooks: {
    /**
     * CIDRs a webhook may be delivered to (WEBHOOK_ALLOW): its URL's host must be an address inside, or a name
     * resolving only to addresses inside, at save and again at delivery. Default empty: webhooks are off until an
     * administrator names where receivers live.
     */
    allow: string[];
    /**
     * Ports no webhook is ever delivered to, on any address: this system's own services (the Redis and
     * PostgreSQL ports of REDIS_URL and DATABASE_URL, PORT, METRICS_PORT) and WEBHOOK_DENY_PORTS.
     */
    deniedPorts: Array<{ port: number; service: string }>;
    /** Tries of one delivery (BullMQ attempts), with exponential back-off from retryBaseMs. */
    attempts: number;
    /** The first retry's delay, in milliseconds (doubling after each failed try). */
    retryBaseMs: number;
    /** How long one POST may take, in milliseconds. */
    timeoutMs: number;
    /** A rule is disabled after this many failed tries in a row (a 2xx resets the count). */
    disableAfter: number;
  };
  rateLimit: {
    enabled: boolean;
    anonymousPerWindow: number;
    userPerWindow: number;
    windowSeconds: number;
    loginFailuresPerAccount: number;
    loginFailuresPerIp: number;
    loginWindowSeconds: number;
  };
}

/** A scanner client's id (a MAC address, a host name, a pool name): what a URL path and a Redis key can hold. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const CLIENT_ID_HINT =
  '1 to 128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,64}$/;
const USERNAME_HINT = '3 to 64 letters, digits, ".", "_" or "-"';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Reads variables one at a time and collects every problem, so one start-up shows them all. */
class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  string(name: string, fallback: string, pattern?: RegExp, hint?: string): string {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (pattern && !pattern.test(raw)) this.problems.push(`${shown(name, raw)} is malformed: ${hint}`);
    return raw;
  }

  optional(name: string, pattern: RegExp, hint: string): string | undefined {
    const raw = this.raw(name);
    if (raw !== undefined && !pattern.test(raw)) {
      this.problems.push(`${shown(name, raw)} is malformed: ${hint}`);
    }
    return raw;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < min || value > max) {
      this.problems.push(`${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name}=${JSON.stringify(raw)} must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
    this.problems.push(`${name}=${JSON.stringify(raw)} must be true or false`);
    return fallback;
  }

  list(name: string, pattern: RegExp, hint: string): string[] {
    const entries = (this.raw(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    for (const entry of entries) {
      if (!pattern.test(entry)) this.problems.push(`${name} holds ${JSON.stringify(entry)}: ${hint}`);
    }
    return entries;
  }

  cidrList(name: string, fallback: string): string[] {
    const raw = this.raw(name) ?? fallback;
    const entries = raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    for (const entry of entries) {
      if (!isCidr(entry))
        this.problems.push(
          `${name} holds ${JSON.stringify(entry)}, which is not an IP address or network CIDR`,
        );
    }
    return entries;
  }

  /** Empty strings count as unset, as they do in most shells and compose files. */
  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }
}

/** Variables whose whole value is a secret: a problem with one names its length, never its value. */
const SECRET_VARIABLES = new Set(['ADMIN_PASSWORD']);

/**
 * `NAME="value"` for a problem message, which ends up in container logs: a secret variable's value is left out,
 * and the password of a URL (`postgres://user:pass@…`, `redis://:pass@…`) is replaced by `***`.
 */
function shown(name: string, raw: string): string {
  if (SECRET_VARIABLES.has(name)) return `${name} (${raw.length} characters, not shown)`;
  return `${name}=${JSON.stringify(raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/\s]*:)[^@/\s]*@/i, '$1***@'))}`;
}

/** An address, or a network whose host bits are zero (`127.0.0.0/8`, not `127.0.0.1/8`). */
export function isCidr(text: string): boolean {
  const [address, bits, extra] = text.split('/');
  if (extra !== undefined) return false;
  const version = isIP(address);
  if (version === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  const width = version === 4 ? 32 : 128;
  if (Number(bits) > width) return false;
  const hostBits = BigInt(width - Number(bits));
  return (addressValue(address, version as 4 | 6) & ((1n << hostBits) - 1n)) === 0n;
}

function addressValue(address: string, version: 4 | 6): bigint {
  if (version === 4) return address.split('.').reduce((value, octet) => (value << 8n) | BigInt(octet), 0n);
  let text = address.toLowerCase();
  const embedded = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (embedded) {
    const v4 = addressValue(embedded[1], 4);
    text = `${text.slice(0, -embedded[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((value, group) => (value << 16n) | BigInt(`0x${group}`), 0n);
}

export function loadConfig(env: Env = process.env): AppConfig {
  const read = new EnvReader(env);
  const host = read.string(
    'HOST',
    '127.0.0.1',
    /^[\w.:-]+$/,
    'expected a host name or IP address to listen on',
  );
  const scanScopeAllow = read.cidrList('SCAN_SCOPE_ALLOW', '127.0.0.0/8,::1/128');
  const config: AppConfig = {
    nodeEnv: read.oneOf('NODE_ENV', 'development', ['development', 'production', 'test'] as const),
    host,
    port: read.int('PORT', 3000, 0, 65535),
    redisUrl: read.string(
      'REDIS_URL',
      'redis://127.0.0.1:6379',
      /^rediss?:\/\/\S+$/,
      'expected redis://host:port[/db]',
    ),
    redisPrefix: read.string(
      'REDIS_PREFIX',
      'nso',
      /^[\w.-]{1,64}$/,
      'letters, digits, ".", "_" and "-" only',
    ),
    databaseUrl: read.string(
      'DATABASE_URL',
      'sqlite:./data/netscan.db',
      /^(sqlite:|file:|postgres:\/\/|postgresql:\/\/)\S+$/,
      'expected sqlite:<path> or postgres://user@host:port/database',
    ),
    databaseSchema: read.optional(
      'DATABASE_SCHEMA',
      /^[a-z_][a-z0-9_]{0,62}$/,
      'a lower-case SQL identifier',
    ),
    databasePoolMax: read.int('DATABASE_POOL_MAX', 10, 2, 500),
    scanScopeAllow,
    scanScopeDeny: read.cidrList('SCAN_SCOPE_DENY', ''),
    nmapPath: read.string('NMAP_PATH', 'nmap', /^[^\s;|&$`<>]+$/, 'a path to the nmap binary'),
    nmapRunTimeoutMs: read.int('NMAP_RUN_TIMEOUT_MS', 300_000, 1_000, 86_400_000),
    nmapRunMaxPerUser: read.int('NMAP_RUN_MAX_PER_USER', 2, 1, 64),
    nmapStatsEverySeconds: read.int('NMAP_STATS_EVERY', 2, 1, 3600),
    workerId: read.string(
      'WORKER_ID',
      `${hostname()}-${process.pid}`,
      /^[\w.:-]{1,128}$/,
      'letters, digits, ".:_-"',
    ),
    workerConcurrency: read.int('WORKER_CONCURRENCY', 2, 1, 64),
    workerLockMs: read.int('WORKER_LOCK_MS', 30_000, 1_000, 600_000),
    batchAttempts: read.int('BATCH_ATTEMPTS', 3, 1, 20),
    batchStallSeconds: read.int('BATCH_STALL_SECONDS', 600, 1, 86_400),
    batchSplit: read.bool('BATCH_SPLIT', true),
    batchSplitMinSeconds: read.int('BATCH_SPLIT_MIN_SECONDS', 10, 1, 86_400),
    eventLogMax: read.int('EVENT_LOG_MAX', 10_000, 100, 1_000_000),
    importMaxBytes: read.int('IMPORT_MAX_BYTES', 512 * 1024 * 1024, 1024, 64 * 1024 * 1024 * 1024),
    sseKeepAliveMs: read.int('SSE_KEEPALIVE_SECONDS', 15, 1, 300) * 1000,
    subscriberMaxBufferedBytes: read.int('SUBSCRIBER_MAX_BUFFERED_KIB', 16_384, 16, 1_048_576) * 1024,
    jobRetentionCount: read.int('JOB_RETENTION_COUNT', 1_000, 0, 1_000_000),
    reconcileIntervalMs: read.int('RECONCILE_INTERVAL_MS', 60_000, 1_000, 3_600_000),
    scheduleMinuteMs: read.int('SCHEDULE_MINUTE_MS', 60_000, 50, 60_000),
    deltaHoldMs: read.int('DELTA_TEST_HOLD_MS', 0, 0, 60_000),
    logLevel: read.oneOf('LOG_LEVEL', 'log', ['error', 'warn', 'log', 'debug', 'verbose'] as const),
    adminUsername: read.string('ADMIN_USERNAME', 'admin', USERNAME_PATTERN, USERNAME_HINT),
    adminPassword: read.optional('ADMIN_PASSWORD', /^.{8,256}$/, 'at least 8 characters'),
    adminEmail: read.optional('ADMIN_EMAIL', /^[^\s@]+@[^\s@]+$/, 'an e-mail address'),
    // Secure default: a gateway others can reach does not let them make accounts (and run scans) unless told to.
    registrationOpen: read.bool('REGISTRATION_OPEN', isLoopbackHost(host)),
    sessionTtlSeconds: read.int('SESSION_TTL_SECONDS', 12 * 3600, 60, 30 * 86400),
    rememberTtlSeconds: read.int('SESSION_REMEMBER_SECONDS', 30 * 86400, 60, 365 * 86400),
    publicOrigins: read.list('PUBLIC_ORIGINS', /^https?:\/\/[^/\s]+$/, 'expected scheme://host[:port]'),
    trustProxy: trustProxySetting(
      read.optional('TRUST_PROXY', /^[\w.:/, -]+$/, 'see the Express "trust proxy" setting'),
    ),
    clients: {
      offlineAfterMs: read.int('CLIENT_OFFLINE_AFTER', 180, 1, 86_400) * 1000,
      perClientPerWindow: read.int('RATE_LIMIT_CLIENT', 300, 1, 10_000_000),
      perNetworkPerWindow: read.int('RATE_LIMIT_CLIENT_NETWORK', 6000, 1, 10_000_000),
      enrolPerNetworkPerWindow: read.int('CLIENT_ENROL_LIMIT', 20, 1, 10_000_000),
      agentTaskTimeoutMs: read.int('AGENT_TASK_TIMEOUT', 1800, 1, 7 * 86_400) * 1000,
      agentPushTimeoutMs: read.int('AGENT_PUSH_TIMEOUT_MS', 5000, 100, 60_000),
      // Loopback only by default: the server contacts no other address unless an operator says so.
      agentPushAllow: read.cidrList('AGENT_PUSH_ALLOW', '127.0.0.0/8,::1/128'),
      agentTaskTargets: read.int('AGENT_TASK_TARGETS', 0, 0, 1_048_576),
    },
    workerClientId: read.string('WORKER_CLIENT_ID', 'local', CLIENT_ID_PATTERN, CLIENT_ID_HINT),
    workerScanRange: orDefault(read.cidrList('WORKER_SCAN_RANGE', ''), scanScopeAllow),
    // Like REGISTRATION_OPEN: a pool on the one machine that runs everything is the operator's own; a worker of
    // a shared deployment waits for an admin. Agents (HTTP) are never approved automatically.
    workerAutoApprove: read.bool('WORKER_AUTO_APPROVE', isLoopbackHost(host)),
    rateLimit: {
      enabled: read.bool('RATE_LIMIT_ENABLED', true),
      anonymousPerWindow: read.int('RATE_LIMIT_ANONYMOUS', 100, 1, 10_000_000),
      userPerWindow: read.int('RATE_LIMIT_AUTHENTICATED', 1000, 1, 10_000_000),
      windowSeconds: read.int('RATE_LIMIT_WINDOW_SECONDS', 3600, 1, 86400),
      loginFailuresPerAccount: read.int('LOGIN_FAILURES_PER_ACCOUNT', 5, 1, 10_000),
      loginFailuresPerIp: read.int('LOGIN_FAILURES_PER_IP', 20, 1, 100_000),
      loginWindowSeconds: read.int('LOGIN_FAILURE_WINDOW_SECONDS', 900, 1, 86400),
    },
    webhooks: {
      // Off by default: a webhook must never become a request to an internal service, and even loopback holds
      // this system's own (issue 17). An administrator turns webhooks on by naming where receivers live.
      allow: read.cidrList('WEBHOOK_ALLOW', ''),
      deniedPorts: [],
      attempts: read.int('WEBHOOK_ATTEMPTS', 5, 1, 20),
      retryBaseMs: read.int('WEBHOOK_RETRY_BASE_MS', 2000, 10, 3_600_000),
      timeoutMs: read.int('WEBHOOK_TIMEOUT_MS', 5000, 100, 60_000),
      disableAfter: read.int('WEBHOOK_DISABLE_AFTER', 10, 1, 1000),
    },
    // `npm start` and the image both run from the package root, where `npm run build` writes dist/web.
    webDistDir: resolve(read.string('WEB_DIST_DIR', 'dist/web')),
    metrics: {
      port: read.int('METRICS_PORT', 0, 0, 65535),
      host: read.string('METRICS_HOST', '127.0.0.1', /^[\w.:-]+$/, 'a host name or IP address to listen on'),
    },
  };
  config.webhooks.deniedPorts = systemPorts(
    config,
    read.list('WEBHOOK_DENY_PORTS', PORT_PATTERN, 'a port 1-65535'),
  );
  if (config.scanScopeAllow.length === 0) read.problems.push('SCAN_SCOPE_ALLOW must name at least one CIDR');
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

const PORT_PATTERN = /^([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])$/;

/**
 * This system's own service ports, which no webhook may reach whatever WEBHOOK_ALLOW says: the ports of
 * REDIS_URL (default 6379) and of a PostgreSQL DATABASE_URL (default 5432), the gateway's PORT, METRICS_PORT when
 * set, and the extra ports an operator lists (WEBHOOK_DENY_PORTS: the other processes' own ports when they
 * differ from this one's, e.g. the gateway's PORT as the workers see it).
 */
function systemPorts(config: AppConfig, extra: string[]): Array<{ port: number; service: string }> {
  const ports: Array<{ port: number; service: string }> = [];
  const add = (port: number, service: string) => {
    if (port > 0 && !ports.some((p) => p.port === port)) ports.push({ port, service });
  };
  add(urlPort(config.redisUrl, 6379), 'Redis');
  if (/^postgres(ql)?:/.test(config.databaseUrl)) add(urlPort(config.databaseUrl, 5432), 'PostgreSQL');
  add(config.port, 'the gateway');
  add(config.metrics.port, 'metrics');
  for (const port of extra) add(Number(port), 'WEBHOOK_DENY_PORTS');
  return ports;
}

function urlPort(url: string, fallback: number): number {
  try {
    const port = new URL(url).port;
    return port ? Number(port) : fallback;
  } catch {
    return fallback;
  }
}

function orDefault(list: string[], fallback: string[]): string[] {
  return list.length > 0 ? list : [...fallback];
}

/** `127.0.0.0/8`, `::1` or `localhost`: an address only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host.toLowerCase() === 'localhost';
}

/** Express reads a string as addresses, so hop counts and booleans must become a number and booleans. */
function trustProxySetting(raw: string | undefined): boolean | number | string {
  if (raw === undefined || /^(false|no|off)$/i.test(raw)) return false;
  if (/^(true|yes|on)$/i.test(raw)) return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  return raw;
}

/** LOG_LEVEL's values, most severe first. */
const LOG_THRESHOLDS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;

/**
 * The Nest logger levels LOG_LEVEL enables: it is a threshold, so `debug` shows what `log` does and debug lines
 * besides (Nest's `logger` option lists levels one by one, and `[level, 'error', 'warn']` left `log` out of
 * `debug`). `fatal` is always on.
 */
export function enabledLogLevels(level: AppConfig['logLevel']): Array<'fatal' | AppConfig['logLevel']> {
  return ['fatal', ...LOG_THRESHOLDS.slice(0, LOG_THRESHOLDS.indexOf(level) + 1)];
}

/** For main.ts: the config, or a clear message on stderr and exit code 78 (EX_CONFIG). */
export function loadConfigOrExit(env: Env = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\nSee docs/configuration.md.\n`);
    process.exit(78);
  }
}
