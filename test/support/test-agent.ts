// A scanner agent that speaks the original delta reporter's agent protocol over real HTTP, for tests: it listens
// on a loopback address of its own (127.0.52.x), heartbeats from that address, answers the server's pushes
// (`/approve`, `/scan` with 202, `/scan/{scan_id}/cancel`), runs real nmap on the pushed targets (loopback only)
// and posts seed 003's results body as the original agent does (with its scan_id, client_id, scan_duration,
// timestamp and summary_stats), parsed with libs/nmap's parser, from its own address. The original agent itself
// runs in test/clients/pdr-agent.e2e-spec.ts.
import { execFile } from 'node:child_process';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { parseNmapXml } from '@nso/nmap';
import { AgentAnswer, agentRequest } from './agent-http';

/** What the agent does with a pushed task: scan and post results, or take it and never answer. */
export type TaskBehaviour = 'scan' | 'silent';

export interface PushedTask {
  scan_id: number;
  task_id: string;
  result_id: number;
  targets: string[];
  ports: string | null;
  scan_arguments: string;
}

export interface TestAgent {
  clientId: string;
  host: string;
  port: number;
  /** Requests the server sent, in order (`POST /scan`...), with their bodies. */
  pushes: Array<{ path: string; body: Record<string, unknown> }>;
  /** Tasks the agent took. */
  tasks: PushedTask[];
  /** The gateway's answers to the results it posted, in order. */
  posted: AgentAnswer[];
  behaviour: TaskBehaviour;
  heartbeat(extra?: Record<string, unknown>): Promise<AgentAnswer>;
  /** The seed body the agent would post for a task (after scanning it). */
  scanTask(task: PushedTask): Promise<Record<string, unknown>>;
  postResults(body: unknown, from?: string): Promise<AgentAnswer>;
  close(): Promise<void>;
}

export async function startTestAgent(options: {
  gatewayUrl: string;
  clientId: string;
  host: string;
  scanRange: string;
  behaviour?: TaskBehaviour;
}): Promise<TestAgent> {
  const agent = {} as TestAgent;
  const server: Server = createServer((req, res) => {
    void readJson(req).then((body) => {
      agent.pushes.push({ path: req.url ?? '', body });
      if (req.method === 'POST' && req.url === '/scan') {
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"accepted"}');
        const task = body as unknown as PushedTask;
        agent.tasks.push(task);
        if (agent.behaviour === 'scan') {
          void agent
            .scanTask(task)
            .then((results) => agent.postResults(results))
            .then((answer) => agent.posted.push(answer))
            .catch(() => undefined);
        }
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  Object.assign(agent, {
    clientId: options.clientId,
    host: options.host,
    port,
    pushes: [],
    tasks: [],
    posted: [],
    behaviour: options.behaviour ?? 'scan',
    heartbeat: (extra: Record<string, unknown> = {}) =>
      agentRequest(
        options.gatewayUrl,
        'POST',
        `/api/clients/${encodeURIComponent(options.clientId)}/heartbeat`,
        {
          client_id: options.clientId,
          hostname: 'test-agent',
          ip_address: options.host,
          port,
          scan_range: options.scanRange,
          active_scans: 0,
          ...extra,
        },
        { from: options.host },
      ),
    scanTask: async (task: PushedTask) => {
      const xml = await runNmap(task);
      const parsed = await parseNmapXml(xml);
      const parsedResults: Record<string, unknown> = {};
      let openPorts = 0;
      for (const host of parsed.hosts) {
        const open = host.ports.filter((p) => p.state === 'open');
        openPorts += open.length;
        parsedResults[host.address] = {
          hostname: host.hostnames[0]?.name ?? '',
          state: host.state,
          open_ports: open.map((p) => p.port),
          port_details: Object.fromEntries(
            open.map((p) => [
              String(p.port),
              {
                protocol: p.protocol,
                name: p.service?.name ?? '',
                product: p.service?.product ?? '',
                version: p.service?.version ?? '',
                extrainfo: p.service?.extrainfo ?? '',
              },
            ]),
          ),
        };
      }
      // The fields and summary_stats the original agent sends (client_agent.py, perform_scan).
      const up = parsed.hosts.filter((h) => h.state === 'up').length;
      return {
        scan_id: task.scan_id,
        task_id: task.task_id,
        result_id: task.result_id,
        client_id: options.clientId,
        status: 'completed',
        scan_duration: 0.5,
        parsed_results: parsedResults,
        summary_stats: {
          total_targets: 0,
          scanned_targets: parsed.hosts.length,
          targets_up: up,
          targets_down: parsed.hosts.length - up,
          error_targets: 0,
          total_open_ports: openPorts,
        },
        timestamp: new Date().toISOString().replace('Z', '+00:00'),
      };
    },
    postResults: (body: unknown, from = options.host) =>
      agentRequest(
        options.gatewayUrl,
        'POST',
        `/api/clients/${encodeURIComponent(options.clientId)}/results`,
        body,
        { from },
      ),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
  return agent;
}

/** nmap on the task's targets, which must all be loopback (the one rule of these tests). */
function runNmap(task: PushedTask): Promise<string> {
  if (!task.targets.every((t) => /^127\.\d+\.\d+\.\d+$/.test(t))) {
    return Promise.reject(new Error(`test agent refuses non-loopback targets: ${task.targets.join(', ')}`));
  }
  const args = [
    '-oX',
    '-',
    ...task.scan_arguments.split(' ').filter(Boolean),
    ...(task.ports ? ['-p', task.ports] : []),
    ...task.targets,
  ];
  return new Promise((resolve, reject) =>
    execFile('nmap', args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    ),
  );
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      try {
        resolve(text ? (JSON.parse(text) as Record<string, unknown>) : {});
      } catch {
        resolve({});
      }
    });
  });
}
