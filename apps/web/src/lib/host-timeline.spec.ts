import { portTimeline } from './host-timeline';

describe('portTimeline', () => {
  it('shows per run open / not open / not scanned with first and last seen', () => {
    const runs = [
      {
        result_id: 3,
        started_at: '2026-12-03T00:00:00Z',
        state: 'up',
        open_ports: [{ protocol: 'tcp', port: 22 }],
      },
      { result_id: 2, started_at: '2026-12-02T00:00:00Z', state: 'down', open_ports: [] },
      {
        result_id: 1,
        started_at: '2026-12-01T00:00:00Z',
        state: 'up',
        open_ports: [
          { protocol: 'tcp', port: 80 },
          { protocol: 'tcp', port: 22 },
        ],
      },
    ];
    expect(portTimeline(runs)).toEqual([
      {
        port: '22/tcp',
        cells: ['open', 'not scanned', 'open'],
        firstSeen: '2026-12-01T00:00:00Z',
        lastSeen: '2026-12-03T00:00:00Z',
      },
      {
        port: '80/tcp',
        cells: ['not open', 'not scanned', 'open'],
        firstSeen: '2026-12-01T00:00:00Z',
        lastSeen: '2026-12-01T00:00:00Z',
      },
    ]);
  });
  it('orders by protocol then number and is empty without open ports', () => {
    const run = (ports: Array<[string, number]>) => ({
      result_id: 1,
      started_at: null,
      state: 'up',
      open_ports: ports.map(([protocol, port]) => ({ protocol, port })),
    });
    expect(
      portTimeline([
        run([
          ['udp', 53],
          ['tcp', 443],
          ['tcp', 53],
        ]),
      ]).map((r) => r.port),
    ).toEqual(['53/tcp', '443/tcp', '53/udp']);
    expect(portTimeline([run([])])).toEqual([]);
  });
});
