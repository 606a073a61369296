import { createHmac } from 'node:crypto';
import type { DeltaReportCounts } from '@nso/contracts';
import { checkWebhookDestination, type ResolveAll } from './webhook-destination';
import { cidrBlockList, compileWebhookFilter, inBlockList, type WebhookChange } from './webhook-filter';
import { buildWebhookPayload, webhookText } from './webhook-payload';
import { verifyWebhookSignature, webhookSignature } from './webhook-signature';

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

const change = (kind: string, address: string, port: number | null = null, protocol: string | null = null) =>
  ({ kind, address, port, protocol }) satisfies WebhookChange;
const opened22 = change('added_port', '127.0.0.1', 22, 'tcp');
const closedUdp53 = change('removed_port', '127.0.1.9', 53, 'udp');
const hostUp = change('new_up_host', '127.0.0.7');
const unverified = change('unverified_port', '127.0.0.1', 22, 'tcp');

describe('compileWebhookFilter', () => {
  it('matches every sent kind of change with an empty filter, never an unverified entry', () => {
    const f = compileWebhookFilter({});
    expect([opened22, closedUdp53, hostUp, unverified].map(f.matches)).toEqual([true, true, true, false]);
    expect(f.scanMatches(42)).toBe(true);
  });

  it('selects kinds by their list names', () => {
    const f = compileWebhookFilter({ kinds: ['removed_ports', 'new_up_hosts'] });
    expect([opened22, closedUdp53, hostUp].map(f.matches)).toEqual([false, true, true]);
  });

  it('needs every criterion to hold, and a port for ports and protocols', () => {
    const f = compileWebhookFilter({ ports: [22, 53], protocols: ['tcp'] });
    expect([opened22, closedUdp53, hostUp].map(f.matches)).toEqual([true, false, false]);
  });

  it('matches hosts inside any CIDR (IPv4 and IPv6)', () => {
    const f = compileWebhookFilter({ host_cidrs: ['127.0.1.0/24', '::1/128'] });
    expect([opened22, closedUdp53, change('new_down_host', '::1')].map(f.matches)).toEqual([
      false,
      true,
      true,
    ]);
  });

  it('limits the scans', () => {
    const f = compileWebhookFilter({ scan_ids: [3, 5] });
    expect([3, 4, 5].map(f.scanMatches)).toEqual([true, false, true]);
  });
});

describe('cidrBlockList', () => {
  it.each(['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '::1/129', '1.2.3.4/x'])('refuses %p', (cidr) => {
    expect(() => cidrBlockList([cidr])).toThrow(`"${cidr}" is not a CIDR`);
  });

  it('matches an address by the rules of its own family: an IPv6 rule such as ::/0 admits no IPv4 address', () => {
    const list = cidrBlockList(['127.0.0.0/8', '::/0']);
    expect(['127.0.0.9', '10.0.0.1', '::1', '2001:db8::1'].map((a) => inBlockList(list, a))).toEqual([
      true,
      false,
      true,
      true,
    ]);
    const mapped = cidrBlockList(['::ffff:0:0/96', '::1']);
    expect(['8.8.8.8', '127.0.0.1', '::1'].map((a) => inBlockList(mapped, a))).toEqual([false, false, true]);
  });
});

describe('webhookSignature', () => {
  it('is sha256= and the hex HMAC-SHA256 of the raw body under the secret', () => {
    const body = '{"event":"delta_report","report_id":1}';
    const hex = createHmac('sha256', 's3cret').update(body).digest('hex');
    expect(webhookSignature('s3cret', body)).toBe(`sha256=${hex}`);
    // A known vector (RFC 4231 test case 2), so the function cannot drift with its own check.
    expect(webhookSignature('Jefe', 'what do ya want for nothing?')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    expect(verifyWebhookSignature('s3cret', body, `sha256=${hex}`)).toBe(true);
    expect(verifyWebhookSignature('other', body, `sha256=${hex}`)).toBe(false);
    expect(verifyWebhookSignature('s3cret', `${body} `, `sha256=${hex}`)).toBe(false);
  });
});

describe('checkWebhookDestination', () => {
  const resolver =
    (answers: Record<string, string[]>): ResolveAll =>
    async (host) => {
      const addresses = answers[host];
      if (!addresses) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
  const never: ResolveAll = () => Promise.reject(new Error('must not resolve'));

  it('accepts an address inside the list and pins it', async () => {
    await expect(checkWebhookDestination('http://127.0.0.1:9000/x', LOOPBACK, never)).resolves.toMatchObject({
      ok: true,
      address: '127.0.0.1',
      family: 4,
    });
    await expect(checkWebhookDestination('https://[::1]/x', LOOPBACK, never)).resolves.toMatchObject({
      ok: true,
      hostname: '::1',
      address: '::1',
      family: 6,
    });
  });

  it.each(['http://203.0.113.9/', 'http://[::2]:80/', 'http://10.0.0.1/', 'http://[::ffff:10.0.0.1]/'])(
    'refuses %s, naming it',
    async (url) => {
      const checked = await checkWebhookDestination(url, LOOPBACK, never);
      expect(checked).toEqual({ ok: false, reason: expect.stringContaining(`${url}:`) });
      expect(checked.ok || checked.reason).toMatch(/outside WEBHOOK_ALLOW/);
    },
  );

  it('accepts a name only when every address it resolves to is inside', async () => {
    const dns = resolver({
      'hooks.lab': ['127.0.0.5', '::1'],
      'mixed.lab': ['127.0.0.5', '10.1.2.3'],
      'outside.lab': ['192.0.2.10'],
    });
    await expect(checkWebhookDestination('http://hooks.lab:81/', LOOPBACK, dns)).resolves.toMatchObject({
      ok: true,
      hostname: 'hooks.lab',
      address: '127.0.0.5',
    });
    await expect(checkWebhookDestination('http://mixed.lab/', LOOPBACK, dns)).resolves.toEqual({
      ok: false,
      reason: expect.stringMatching(/mixed\.lab resolves to 10\.1\.2\.3, outside WEBHOOK_ALLOW/),
    });
    await expect(checkWebhookDestination('http://outside.lab/', LOOPBACK, dns)).resolves.toMatchObject({
      ok: false,
    });
    await expect(checkWebhookDestination('http://nowhere.lab/', LOOPBACK, dns)).resolves.toEqual({
      ok: false,
      reason: expect.stringMatching(/does not resolve/),
    });
  });

  it.each(['ftp://127.0.0.1/', 'file:///etc/passwd', 'http://user:pw@127.0.0.1/', 'not a url'])(
    'refuses %p',
    async (url) => {
      await expect(checkWebhookDestination(url, LOOPBACK, never)).resolves.toMatchObject({ ok: false });
    },
  );

  it('refuses an IPv4 destination that only an IPv6 rule such as ::/0 would cover', async () => {
    const checked = await checkWebhookDestination('http://10.0.0.1/', ['127.0.0.0/8', '::/0'], never);
    expect(checked).toEqual({ ok: false, reason: expect.stringMatching(/outside WEBHOOK_ALLOW/) });
  });

  it('follows a wider allow-list', async () => {
    await expect(checkWebhookDestination('http://10.0.0.1/', ['10.0.0.0/8'], never)).resolves.toMatchObject({
      ok: true,
    });
  });
});

describe('buildWebhookPayload', () => {
  const summary: DeltaReportCounts = {
    new_ports_count: 1,
    closed_ports_count: 2,
    changed_services_count: 0,
    new_hosts_count: 0,
    removed_hosts_count: 0,
    has_changes: true,
  };
  const sent = (port: number) => ({
    kind: 'added_port',
    host: '127.0.0.1',
    protocol: 'tcp',
    port,
    before: null,
    after: { state: 'open' },
    detail: null,
  });

  it('carries the report, the matching changes and a one-paragraph Slack text', () => {
    const payload = buildWebhookPayload({
      reportId: 9,
      scanId: 4,
      scanName: 'Lab <prod> & co',
      baselineResultId: 1,
      currentResultId: 2,
      createdAt: new Date('2026-11-30T04:00:00Z'),
      summary,
      changes: [sent(22)],
      truncated: false,
    });
    expect(payload).toMatchObject({ event: 'delta_report', report_id: 9, scan_id: 4, truncated: false });
    expect(payload.text).toBe(
      'NetScan: scan "Lab &lt;prod&gt; &amp; co" changed (report 9): 1 port opened, 2 ports closed, ' +
        '0 services changed, 0 hosts up, 0 hosts down. Matching: 127.0.0.1 tcp/22 opened.',
    );
    expect(payload.text).not.toMatch(/\n/);
  });

  it('counts in its text the confirmed changes of a verified report, unless the rule sends unconfirmed ones', () => {
    const base = {
      reportId: 9,
      scanId: 4,
      scanName: 'lab',
      baselineResultId: 1,
      currentResultId: 2,
      createdAt: new Date('2026-11-30T04:00:00Z'),
      summary,
      confirmed: { ...summary, closed_ports_count: 0 },
      verificationStatus: 'done' as const,
      changes: [sent(22)],
      truncated: false,
    };
    const payload = buildWebhookPayload(base);
    expect(payload).toMatchObject({ summary, confirmed: base.confirmed, verification: { status: 'done' } });
    expect(payload.text).toMatch(/: 1 port opened, 0 ports closed,/);
    expect(buildWebhookPayload({ ...base, includeUnconfirmed: true }).text).toMatch(
      /: 1 port opened, 2 ports closed,/,
    );
  });

  it('lists five changes in the text and says there are more', () => {
    const text = webhookText({
      reportId: 1,
      scanName: 'x',
      summary,
      changes: [1, 2, 3, 4, 5, 6, 7].map(sent),
      truncated: false,
    });
    expect(text).toMatch(/tcp\/5 opened; and 2 more\.$/);
    expect(webhookText({ reportId: 1, scanName: 'x', summary, changes: [sent(1)], truncated: true })).toMatch(
      /tcp\/1 opened; and more\.$/,
    );
  });
});

describe("checkWebhookDestination: the system's own ports and webhooks off (issue 17)", () => {
  const never: ResolveAll = () => Promise.reject(new Error('must not resolve'));
  // Issue 17: loopback holds this system's own services; no allow-list reaches them, and none means no webhooks.
  const policy = {
    allow: LOOPBACK,
    deniedPorts: [
      { port: 6379, service: 'Redis' },
      { port: 5432, service: 'PostgreSQL' },
      { port: 80, service: 'the gateway' },
    ],
  };

  it.each([
    ['http://127.0.0.1:6379/', /port 6379 is Redis's, one of this system's own services/],
    ['http://[::1]:5432/x', /port 5432 is PostgreSQL's/],
    ['http://127.0.0.1/api/broadcast', /port 80 is the gateway's/],
  ])('refuses %p whatever the allow-list says', async (url, reason) => {
    await expect(checkWebhookDestination(url, policy, never)).resolves.toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
  });

  it('lets other ports of allowed addresses through', async () => {
    await expect(checkWebhookDestination('http://127.0.0.1:9000/', policy, never)).resolves.toMatchObject({
      ok: true,
    });
  });

  it('refuses everything when the allow-list is empty: webhooks are off', async () => {
    await expect(
      checkWebhookDestination('http://127.0.0.1:9000/', { allow: [], deniedPorts: [] }, never),
    ).resolves.toEqual({ ok: false, reason: 'Webhooks are off: an administrator has not set WEBHOOK_ALLOW' });
  });
});
