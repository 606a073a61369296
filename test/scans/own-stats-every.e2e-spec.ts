import { TEST_DATABASES } from '../support/database';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

// A scan that sets its own --stats-every (on the allow-list, up to 24 h) on a real worker and real nmap, against
// 127.0.93.9 only: nmap then reports its progress that rarely, so a batch that writes no host for longer than
// BATCH_STALL_SECONDS (3 s here) is not stalled while it is within five of its own intervals; it completes.
describe.each(TEST_DATABASES)('a scan with its own --stats-every on %s', (database) => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem({
      database,
      workers: 1,
      env: { BATCH_STALL_SECONDS: '3', BATCH_ATTEMPTS: '1' },
    });
  });
  afterAll(async () => {
    await system?.close();
  });

  it('runs a batch quiet for longer than BATCH_STALL_SECONDS to its end', async () => {
    const started = await system.gateway
      .api()
      .post('/api/scans/start')
      .send({
        // One address, 30,000 ports at 4,000 a second: about 8 s with nothing new in the XML before its host.
        nmap_flags: ['-sT', '-Pn', '-n', '-p1-30000', '--max-rate', '4000', '--stats-every', '1m'],
        targets: ['127.0.93.9'],
      })
      .expect(200);
    const scanId = started.body.scan_id as number;
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    try {
      const end = await socket.waitFor((m) => ['scan_complete', 'scan_failed'].includes(m.event), 60_000);
      expect(socket.messages.filter((m) => m.event === 'batch_stalled')).toEqual([]);
      expect(end.event).toBe('scan_complete');
    } finally {
      socket.close();
    }
  });
});
