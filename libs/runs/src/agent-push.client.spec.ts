import type { AppConfig } from '@nso/config';
import { AgentPushClient, agentScanArguments } from './agent-push.client';

const config = (allow: string[], deniedPorts: Array<{ port: number; service: string }> = []) =>
  ({
    clients: { agentPushAllow: allow, agentPushTimeoutMs: 500 },
    webhooks: { deniedPorts },
  }) as unknown as AppConfig;

describe('AgentPushClient', () => {
  afterEach(() => jest.restoreAllMocks());

  it('never contacts an address outside AGENT_PUSH_ALLOW (loopback by default)', async () => {
    const fetch = jest.spyOn(globalThis, 'fetch').mockImplementation(() => {
      throw new Error('fetch must not be called');
    });
    const push = new AgentPushClient(config(['127.0.0.0/8', '::1/128']));
    expect(push.allowed('192.0.2.10')).toBe(false);
    expect(push.allowed('not an address')).toBe(false);
    expect(push.allowed('127.0.52.1')).toBe(true);
    const outcome = await push.approve({ clientId: 'far', ipAddress: '192.0.2.10', port: 8080 });
    expect(outcome).toEqual({
      ok: false,
      reason: 'agent address 192.0.2.10 is outside AGENT_PUSH_ALLOW; it is never contacted',
    });
    expect(fetch).not.toHaveBeenCalled();
  });

  it("never contacts an agent on one of this system's own service ports, whatever address it gives", async () => {
    const fetch = jest.spyOn(globalThis, 'fetch').mockImplementation(() => {
      throw new Error('fetch must not be called');
    });
    const own = [
      { port: 6379, service: 'Redis' },
      { port: 5432, service: 'PostgreSQL' },
    ];
    const push = new AgentPushClient(config(['127.0.0.0/8'], own));
    const outcome = await push.approve({ clientId: 'sneaky', ipAddress: '127.0.0.1', port: 6379 });
    expect(outcome).toEqual({
      ok: false,
      reason: "agent port 6379 is this system's own (Redis); it is never contacted",
    });
    const cancel = await push.cancel({ clientId: 'sneaky', ipAddress: '127.0.52.1', port: 5432 }, 3);
    expect(cancel).toMatchObject({ ok: false, reason: expect.stringMatching(/own \(PostgreSQL\)/) });
    expect(fetch).not.toHaveBeenCalled();
  });

  it('posts JSON to the agent and reads a 2xx as taken', async () => {
    const fetch = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response('{}', { status: 202 }));
    const push = new AgentPushClient(config(['127.0.0.0/8']));
    const body = {
      scan_id: 1,
      task_id: 't',
      result_id: 2,
      targets: ['127.0.52.9'],
      ports: '22',
      scan_arguments: '-sT',
    };
    expect(await push.scan({ clientId: 'a', ipAddress: '127.0.52.1', port: 9000 }, body)).toEqual({
      ok: true,
      status: 202,
    });
    expect(fetch.mock.calls[0][0]).toBe('http://127.0.52.1:9000/scan');
    expect(JSON.parse(String(fetch.mock.calls[0][1]?.body))).toEqual(body);
  });
});

describe('agentScanArguments', () => {
  it("splits the run's flags into the protocol's ports and scan_arguments", () => {
    expect(agentScanArguments(['-sT', '-Pn', '-p22,80'])).toEqual({
      ports: '22,80',
      scan_arguments: '-sT -Pn',
    });
    expect(agentScanArguments(['-sT', '-p', '1-1000', '-n'])).toEqual({
      ports: '1-1000',
      scan_arguments: '-sT -n',
    });
    expect(agentScanArguments(['-T4', '-Pn'])).toEqual({ ports: null, scan_arguments: '-T4 -Pn' });
  });
});
