import { clientStatus } from './client-status';

const NOW = new Date('2026-11-30T03:00:00.000Z');
const MINUTES_3 = 180_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms);

describe('clientStatus', () => {
  it.each([
    ['a fresh heartbeat', { status: 'online', lastSeen: ago(1_000), isEnabled: true }, 'online'],
    [
      'a fresh heartbeat while scanning',
      { status: 'scanning', lastSeen: ago(1_000), isEnabled: true },
      'scanning',
    ],
    [
      'silent just under the limit',
      { status: 'online', lastSeen: ago(MINUTES_3 - 1), isEnabled: true },
      'online',
    ],
    [
      'silent exactly for the limit',
      { status: 'scanning', lastSeen: ago(MINUTES_3), isEnabled: true },
      'offline',
    ],
    ['never seen', { status: 'online', lastSeen: null, isEnabled: true }, 'offline'],
    ['disabled by an admin', { status: 'online', lastSeen: ago(1_000), isEnabled: false }, 'offline'],
    ['said offline itself', { status: 'offline', lastSeen: ago(1_000), isEnabled: true }, 'offline'],
  ] as const)('%s: %s', (_why, fields, expected) => {
    expect(clientStatus({ ...fields }, NOW, MINUTES_3)).toBe(expected);
  });
});
