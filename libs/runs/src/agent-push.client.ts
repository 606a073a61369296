// The server's side of the HTTP agent protocol (the original delta reporter's agent): the requests it sends to an
// agent's listening address. Best effort, with a short timeout, and only to addresses AGENT_PUSH_ALLOW permits
// (loopback by default), never on one of this system's own service ports: the server contacts nothing else.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { parseIpAddress, ScanScope } from '@nso/nmap';
import type { AgentEndpoint } from '@nso/persistence';

/** What a push came to: `ok` when the agent answered 2xx; otherwise why not (and the agent's status, if any). */
export type PushOutcome = { ok: true; status: number } | { ok: false; reason: string; status?: number };

/** The body of `POST http://{ip}:{port}/scan` (seed 003's agent protocol). */
export interface ScanPush {
  scan_id: number;
  task_id: string;
  result_id: number;
  targets: string[];
  /** nmap's `-p` value of the run, or null for nmap's default ports. */
  ports: string | null;
  /** The run's other nmap options, space separated. */
  scan_arguments: string;
}

@Injectable()
export class AgentPushClient {
  private readonly logger = new Logger('AgentPush');
  private readonly allow: ScanScope;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.allow = new ScanScope(config.clients.agentPushAllow, []);
  }

  /** Whether the server may contact this address at all (AGENT_PUSH_ALLOW). */
  allowed(ipAddress: string): boolean {
    return parseIpAddress(ipAddress) !== undefined && this.allow.contains(ipAddress);
  }

  /** Gives the agent a task; it answers 202 and posts its results later. */
  scan(agent: AgentEndpoint, body: ScanPush): Promise<PushOutcome> {
    return this.post(agent, '/scan', body);
  }

  /** Tells the agent its approval (best effort). */
  approve(agent: AgentEndpoint): Promise<PushOutcome> {
    return this.post(agent, '/approve', {});
  }

  /** Tells the agent to stop its tasks of the scan (best effort). */
  cancel(agent: AgentEndpoint, scanId: number): Promise<PushOutcome> {
    return this.post(agent, `/scan/${scanId}/cancel`, {});
  }

  /**
   * Why the server never contacts this agent, or undefined when it may: an address outside AGENT_PUSH_ALLOW, or a
   * port of this system's own services (Redis, PostgreSQL, the gateway, metrics, WEBHOOK_DENY_PORTS: the ports no
   * webhook may reach either), which an agent's heartbeat could otherwise point the server's requests at.
   */
  private refusal(agent: AgentEndpoint): string | undefined {
    if (!this.allowed(agent.ipAddress)) {
      return `agent address ${agent.ipAddress} is outside AGENT_PUSH_ALLOW; it is never contacted`;
    }
    const own = this.config.webhooks.deniedPorts.find((denied) => denied.port === agent.port);
    if (own) return `agent port ${agent.port} is this system's own (${own.service}); it is never contacted`;
    return undefined;
  }

  private async post(agent: AgentEndpoint, path: string, body: unknown): Promise<PushOutcome> {
    const reason = this.refusal(agent);
    if (reason) {
      this.logger.warn(`${agent.clientId}: ${reason}`);
      return { ok: false, reason };
    }
    const host = agent.ipAddress.includes(':') ? `[${agent.ipAddress}]` : agent.ipAddress;
    const url = `http://${host}:${agent.port}${path}`;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.config.clients.agentPushTimeoutMs),
        redirect: 'manual',
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      return {
        ok: false,
        reason: `agent ${agent.clientId} answered ${path} with HTTP ${response.status}`,
        status: response.status,
      };
    } catch (error) {
      const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
      return { ok: false, reason: `agent ${agent.clientId} could not be reached at ${url}: ${cause}` };
    }
  }
}

/** Splits a run's nmap flags into the agent protocol's `ports` (the `-p` value) and `scan_arguments`. */
export function agentScanArguments(flags: readonly string[]): {
  ports: string | null;
  scan_arguments: string;
} {
  let ports: string | null = null;
  const rest: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i];
    if (flag === '-p' && i + 1 < flags.length) ports = flags[++i];
    else if (flag.startsWith('-p') && flag.length > 2) ports = flag.slice(2);
    else rest.push(flag);
  }
  return { ports, scan_arguments: rest.join(' ') };
}
