// The original delta reporter's agent (../shared/clients/pdr-agent, kept byte for byte) as a test's scanner
// client: started with its own run-agent.sh on a loopback address, stopped with SIGINT (its own shutdown: PUT
// status offline) and then SIGTERM. Absent in a checkout without ../shared: tests that need it are skipped.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processEnded, waitUntil } from './nmap-processes';

/** Where the original agent is kept: `../shared/clients/pdr-agent` beside the repository. */
export const PDR_AGENT_DIR = join(__dirname, '..', '..', '..', 'shared', 'clients', 'pdr-agent');

/** Why the original agent cannot run here, or undefined when it can. */
export function pdrAgentMissing(): string | undefined {
  const script = join(PDR_AGENT_DIR, 'run-agent.sh');
  if (!existsSync(script)) return `${script} is absent (no ../shared checkout beside the repository)`;
  return undefined;
}

export interface PdrAgent {
  clientId: string;
  host: string;
  port: number;
  pid: number;
  /** The agent's own log (its logging output). */
  log(): string;
  /** `GET http://{host}:{port}/health` of the agent. */
  health(): Promise<{ approved: boolean; active_scans: number; client_id: string }>;
  /** SIGINT (the agent's shutdown: cancel, PUT offline), then waits for it to exit (SIGTERM after `ms`). */
  stop(ms?: number): Promise<void>;
}

/**
 * Starts the original agent with `run-agent.sh SERVER_URL CLIENT_ID HOST SCAN_RANGE LOG`. The script needs
 * Debian's python3 (its packages: python3-nmap, -flask, -requests, -psutil, -yaml), so /usr/bin comes first on
 * PATH (a pyenv or venv python3 would not see them).
 */
export async function startPdrAgent(options: {
  gatewayUrl: string;
  clientId: string;
  host: string;
  scanRange: string;
  logFile: string;
}): Promise<PdrAgent> {
  const script = join(PDR_AGENT_DIR, 'run-agent.sh');
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      'bash',
      [script, options.gatewayUrl, options.clientId, options.host, options.scanRange, options.logFile],
      { env: { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}` }, timeout: 600_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`run-agent.sh failed: ${stderr || error.message}`)) : resolve(stdout),
    ),
  );
  const match = /pid=(\d+) port=(\d+)/.exec(out);
  if (!match) throw new Error(`run-agent.sh printed no pid and port: ${out}`);
  const pid = Number(match[1]);
  const port = Number(match[2]);
  const log = () => (existsSync(options.logFile) ? readFileSync(options.logFile, 'utf8') : '');
  return {
    clientId: options.clientId,
    host: options.host,
    port,
    pid,
    log,
    health: async () => {
      const response = await fetch(`http://${options.host}:${port}/health`, {
        signal: AbortSignal.timeout(10_000),
      });
      return (await response.json()) as { approved: boolean; active_scans: number; client_id: string };
    },
    stop: async (ms = 30_000) => {
      if (processEnded(pid)) return;
      process.kill(pid, 'SIGINT');
      try {
        await waitUntil(() => processEnded(pid), ms, 'the agent to exit after SIGINT');
      } catch {
        if (!processEnded(pid)) process.kill(pid, 'SIGTERM');
      }
    },
  };
}
