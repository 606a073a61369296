import { reconnectDelay, scanSocketUrl, shouldReconnect } from './reconnect';

describe('scan socket reconnects', () => {
  it('backs off from 0.5 s doubling to at most 10 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 30].map(reconnectDelay)).toEqual([
      500, 1000, 2000, 4000, 8000, 10000, 10000, 10000,
    ]);
  });
  it('never reconnects after 4400, 4401, 4403, 4404', () => {
    for (const code of [4400, 4401, 4403, 4404]) expect(shouldReconnect(code)).toBe(false);
    for (const code of [1000, 1001, 1006, 1011, 4408]) expect(shouldReconnect(code)).toBe(true);
  });
  it('resumes with ?since= after the last seq seen', () => {
    expect(scanSocketUrl('http://127.0.0.1:3000', 7, null)).toBe('ws://127.0.0.1:3000/ws/scans/7');
    expect(scanSocketUrl('https://scan.example', 7, 41)).toBe('wss://scan.example/ws/scans/7?since=41');
  });
});
