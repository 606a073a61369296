import {
  HostRows,
  HostRowsBuilder,
  joinPieces,
  ResultValueError,
  resultValueProblems,
  unlistedStatesOf,
  type HostResultInput,
} from './batch-hosts';

const host = (over: Partial<HostResultInput> = {}): HostResultInput => ({
  address: '127.0.0.5',
  addressType: 'ipv4',
  hostnames: [],
  state: 'up',
  ports: [
    { protocol: 'tcp', port: 22, state: 'open', service: { name: 'ssh', cpe: ['cpe:/a:openbsd:openssh'] } },
  ],
  ...over,
});

// What storeResult refuses before writing (and the XML import answers 400 with): each problem names the host,
// the port and the field.
describe('resultValueProblems', () => {
  it('finds nothing in values that fit', () => {
    expect(resultValueProblems([host(), host({ address: '127.0.0.6', ports: [] })])).toEqual([]);
  });

  it('names the host, port and field of each problem', () => {
    const problems = resultValueProblems([
      host({ reason: 'x'.repeat(256), hostnames: [{ name: 'a\u0000b' }] }),
      host({
        address: '127.0.0.7',
        ports: [
          { protocol: 'tcp', port: 70000, state: 'open' },
          {
            protocol: 'tcp',
            port: 80,
            state: 'open\u0000',
            service: { version: 'v'.repeat(300), cpe: ['c\u0000'] },
          },
        ],
      }),
    ]);
    expect(problems).toEqual([
      '"127.0.0.5": reason is 256 characters long (at most 255)',
      '"127.0.0.5": hostnames contains a NUL character',
      '"127.0.0.7" tcp/70000: port is not a number from 0 to 65535',
      '"127.0.0.7" tcp/80: state contains a NUL character',
      '"127.0.0.7" tcp/80: version is 300 characters long (at most 255)',
      '"127.0.0.7" tcp/80: cpe contains a NUL character',
    ]);
  });

  it('reads a port without a service (undefined or null)', () => {
    const ports = [
      { protocol: 'tcp', port: 1, state: 'closed' },
      { protocol: 'tcp', port: 2, state: 'closed', service: null as unknown as undefined },
    ];
    expect(resultValueProblems([host({ ports })])).toEqual([]);
  });
});

describe('unlistedStatesOf', () => {
  it.each([
    [undefined, null],
    [[], null],
    [[{ state: 'closed', count: 997 }], 'closed'],
    [
      [
        { state: 'filtered', count: 3 },
        { state: 'closed', count: 990 },
        { state: 'filtered', count: 4 },
      ],
      'closed,filtered',
    ],
  ])('%j → %j', (extraPorts, states) => {
    expect(unlistedStatesOf(extraPorts)).toBe(states);
  });
});

// The rows a batch or an imported file is stored as: the same whether encoded at once (storeResult) or one host
// at a time (the import), and decoded back to hosts that encode to the same rows (an address listed twice in a
// file is joined that way).
describe('HostRows', () => {
  const hosts: HostResultInput[] = [
    host({
      hostnames: [{ name: 'a.example', type: 'PTR' }],
      reason: 'syn-ack',
      mac: '00:11:22:33:44:55',
      os: [{ name: 'Linux', accuracy: 98 }],
      extraPorts: [
        { state: 'filtered', count: 3 },
        { state: 'closed', count: 990 },
      ],
      ports: [
        {
          protocol: 'tcp',
          port: 22,
          state: 'open',
          reason: 'syn-ack',
          service: { name: 'ssh', cpe: ['cpe:/a:x'] },
        },
        { protocol: 'tcp', port: 80, state: 'closed' },
        {
          protocol: 'udp',
          port: 53,
          state: 'open',
          service: { product: 'dnsmasq', version: '2.9', extrainfo: 'x' },
        },
        { protocol: 'tcp', port: 22, state: 'closed' },
      ],
    }),
    host({ address: '::1', addressType: 'ipv6', state: 'down', ports: [] }),
  ];
  const rowsOf = (rows: HostRows) => ({
    hosts: rows.hostChunks.flatMap((chunk) => JSON.parse(chunk.json) as unknown[]),
    ports: rows.portChunks.flatMap((chunk) => JSON.parse(chunk.json) as unknown[]),
    count: rows.count,
    up: rows.up,
    open: rows.openPorts,
  });

  it('encodes hosts and ports as the inserts take them, a port listed twice once (the first)', () => {
    expect(rowsOf(HostRows.of(hosts))).toEqual({
      hosts: [
        [
          '127.0.0.5',
          'ipv4',
          '[{"name":"a.example","type":"PTR"}]',
          'up',
          'syn-ack',
          '00:11:22:33:44:55',
          '[{"name":"Linux","accuracy":98}]',
          'closed,filtered',
        ],
        // Trailing nulls are left out: a missing element reads as NULL in the statements.
        ['::1', 'ipv6', '[]', 'down'],
      ],
      ports: [
        ['127.0.0.5', 'tcp', 22, 'open', 'syn-ack', 'ssh', null, null, null, '["cpe:/a:x"]'],
        ['127.0.0.5', 'tcp', 80, 'closed'],
        ['127.0.0.5', 'udp', 53, 'open', null, null, 'dnsmasq', '2.9', 'x'],
      ],
      count: 2,
      up: 1,
      open: 2,
    });
  });

  it('gives the same rows built one host at a time, and from the hosts decoded', () => {
    const builder = new HostRowsBuilder();
    for (const h of hosts) builder.add(h);
    const built = builder.build();
    expect(rowsOf(built)).toEqual(rowsOf(HostRows.of(hosts)));
    expect(rowsOf(HostRows.of(built.hosts()))).toEqual(rowsOf(built));
    expect(builder.count).toBe(0);
    expect(rowsOf(builder.build())).toEqual({ hosts: [], ports: [], count: 0, up: 0, open: 0 });
  });

  it('moves hosts as their rows’ text: encodedHosts written back in another order are the same rows', () => {
    const rows = HostRows.of(hosts);
    const encoded = rows.encodedHosts();
    expect(encoded.map((h) => h.address)).toEqual(hosts.map((h) => h.address));
    const reversed = new HostRowsBuilder();
    for (const h of [...encoded].reverse()) reversed.addEncoded(h);
    const back = reversed.build();
    expect(rowsOf(back)).toEqual(rowsOf(HostRows.of([...hosts].reverse())));
    expect(back.hosts()).toEqual([...rows.hosts()].reverse());
  });

  it('cuts the rows into pieces of at most 1,024 (SQLite statements); PostgreSQL joins them up to 8,192', () => {
    const many = Array.from({ length: 8193 }, (_, i) => host({ address: `127.1.${i >> 8}.${i & 255}` }));
    const builder = new HostRowsBuilder();
    for (const h of many) builder.add(h);
    for (const rows of [HostRows.of(many), builder.build()]) {
      expect(rows.hostChunks.map((chunk) => chunk.rows)).toEqual([...Array(8).fill(1024), 1]);
      expect(rows.portChunks.map((chunk) => chunk.rows)).toEqual([...Array(8).fill(1024), 1]);
      expect(rowsOf(rows)).toMatchObject({ count: 8193, up: 8193, open: 8193 });
      const statements = joinPieces(rows.hostChunks, 8192);
      expect(statements.map((s) => [s.rows, s.counted])).toEqual([
        [8192, 8192],
        [1, 1],
      ]);
      // The joined text is the pieces' rows, in order, as one array.
      const joinedRows = statements.flatMap((s) => JSON.parse(s.json) as unknown[][]);
      expect(joinedRows).toEqual(rows.hostChunks.flatMap((c) => JSON.parse(c.json) as unknown[][]));
    }
  });

  it('refuses values no column holds, adding nothing', () => {
    const builder = new HostRowsBuilder();
    expect(() => builder.add(host({ reason: 'x'.repeat(256) }))).toThrow(ResultValueError);
    expect(() => HostRows.of([host({ state: 'up\u0000' })])).toThrow(ResultValueError);
    expect(builder.count).toBe(0);
  });
});
