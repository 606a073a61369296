// Issue 8, A.1: a request handled by a raw listener of the HTTP server (the `upgrade` event) is outside Nest's
// exception filters; one malformed upgrade used to end the gateway process. Sent over raw sockets to a gateway
// process, each of these gets an HTTP error (or a clean close), and the gateway stays healthy.
import { GatewayProcess, startGatewayProcess } from '../support/gateway-process';
import { rawExchange, upgradeRequest } from '../support/raw-http';

describe('malformed WebSocket upgrades', () => {
  let gateway: GatewayProcess;
  beforeAll(async () => {
    gateway = await startGatewayProcess();
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const garbage = Buffer.from([0x00, 0xff, 0x81, 0x7f, 0xde, 0xad, 0xbe, 0xef, 0x0d, 0x0a]);

  // [name, what is sent, the status expected (undefined: no answer, only a close)]
  const cases: Array<
    [string, Array<string | Buffer | ((s: import('node:net').Socket) => void)>, number | undefined]
  > = [
    // The curl of the issue: curl --request-target '//[' -H 'Connection: Upgrade' -H 'Upgrade: websocket'
    [
      'a target URL() cannot parse (//[)',
      ['GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'],
      400,
    ],
    ['the same with a full handshake', [upgradeRequest('//[')], 400],
    ['a protocol-relative target', [upgradeRequest('//evil.example/ws/scans/1')], 400],
    ['the asterisk target', [upgradeRequest('*')], 400],
    ['an absolute-form target', [upgradeRequest('http://127.0.0.1/ws/scans/1')], 400],
    ['an unknown path', [upgradeRequest('/no/such/socket')], 404],
    ['no Sec-WebSocket-Key', [upgradeRequest('/ws/scans/1', { 'Sec-WebSocket-Key': null })], 400],
    [
      'a Sec-WebSocket-Key that is not 16 bytes of base64',
      [upgradeRequest('/ws/scans/1', { 'Sec-WebSocket-Key': 'not-a-key' })],
      400,
    ],
    [
      'an unknown Sec-WebSocket-Version',
      [upgradeRequest('/ws/scans/1', { 'Sec-WebSocket-Version': '99' })],
      400,
    ],
    ['no Sec-WebSocket-Version', [upgradeRequest('/ws/scans/1', { 'Sec-WebSocket-Version': null })], 400],
    ['another protocol in Upgrade', [upgradeRequest('/ws/scans/1', { Upgrade: 'h2c' })], 400],
    [
      'a malformed Sec-WebSocket-Protocol',
      [upgradeRequest('/ws/scans/1', { 'Sec-WebSocket-Protocol': 'a,,b' })],
      400,
    ],
    ['a POST upgrade', [upgradeRequest('/ws/scans/1', {}, 'POST')], 405],
    ['garbage after the headers of an unknown path', [upgradeRequest('/nope'), garbage], 404],
    ['garbage after the headers of a bad target', [upgradeRequest('//['), garbage], 400],
    // A valid handshake is upgraded (101); the garbage is then an invalid frame, and the socket is closed.
    ['garbage frames after a valid handshake', [upgradeRequest('/ws/scans/1'), garbage], 101],
    ['a malformed %-escape in the scan id', [upgradeRequest('/ws/scans/%zz')], 101],
    ['a header block of 64 KiB', [upgradeRequest('/ws/scans/1', { 'X-Filler': 'x'.repeat(64 * 1024) })], 431],
    ['a control character in a header', [upgradeRequest('/ws/scans/1', { 'X-Bad': 'a\u0001b' })], 400],
    [
      'a connection reset right after the handshake',
      [upgradeRequest('/ws/scans/1'), (s) => s.resetAndDestroy()],
      undefined,
    ],
    [
      'a connection reset mid-headers',
      ['GET /ws/scans/1 HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Up', (s) => s.resetAndDestroy()],
      undefined,
    ],
    ['a reset of an unknown path', [upgradeRequest('/nope'), (s) => s.resetAndDestroy()], undefined],
  ];

  it.each(cases)('answers %s and stays up', async (_name, chunks, status) => {
    const exchange = await rawExchange(gateway.port, chunks);
    expect(exchange.status).toBe(status);
    if (status !== undefined && status !== 101) expect(exchange.closed).toBe(true);
    expect(await gateway.healthy()).toBe(true);
  });

  it('survives all of them at once, and logs no uncaught error', async () => {
    await Promise.all(
      cases.flatMap(([, chunks]) => [rawExchange(gateway.port, chunks), rawExchange(gateway.port, chunks)]),
    );
    expect(await gateway.healthy()).toBe(true);
    expect(gateway.process.output()).not.toMatch(/uncaught|unhandled|TypeError|Invalid URL/i);
  });
});
