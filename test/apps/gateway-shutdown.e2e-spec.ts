import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { nmapProcessesMatching, processEnded, waitUntil } from '../support/nmap-processes';

// A gateway told to stop (SIGTERM: a rollout, a scale-down) must exit within its grace period — 30 s in the
// compose file and the manifests — with code 0. A one-off POST /api/nmap/run held it for as long as nmap ran (up
// to NMAP_RUN_TIMEOUT_MS, 5 min): it was killed at the end of the grace period, its client's connection reset.
describe('a gateway stopped while a POST /api/nmap/run is under way', () => {
  let gateway: GatewayProcess | undefined;

  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  it('stops that nmap, answers 503 so the client may run it again elsewhere, and exits 0 at once', async () => {
    gateway = await startGatewayProcess();
    const { url, auth, process: child } = gateway;
    // About a minute of nmap: 6,000 closed ports of a loopback address at 100 packets per second.
    const answer = fetch(`${url}/api/nmap/run`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', '1-6000', '--max-rate', '100'],
        targets: ['127.0.57.1'],
      }),
    }).then(async (response) => ({ status: response.status, body: (await response.json()) as unknown }));
    await waitUntil(() => nmapProcessesMatching('127.0.57.1').length === 1, 10_000, 'nmap to start');
    const [nmap] = nmapProcessesMatching('127.0.57.1');

    const stoppedAt = Date.now();
    child.child.kill('SIGTERM');
    const code = await Promise.race([
      child.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running after 10 s'), 10_000)),
    ]);
    expect(code).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    expect(await answer).toEqual({
      status: 503,
      body: { error: 'The gateway is shutting down: nmap was stopped; run it again' },
    });
    expect(processEnded(nmap)).toBe(true);
  });
});
