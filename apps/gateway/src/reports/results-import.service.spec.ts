import { BadRequestException, NotFoundException } from '@nestjs/common';
import { ScanScope, ScopeError } from '@nso/nmap';
import { PiecesStartOver, type HostRows } from '@nso/persistence';
import type { FakeBatchRepository } from '@nso/runs/testing/table-fakes';
import { newRunService } from '@nso/runs/testing/run-fakes';
import type { RunService } from '@nso/runs';
import type { ReportsService } from './reports.service';
import { IMPORT_PIECE_HOSTS } from './imported-hosts';
import { ResultsImportService } from './results-import.service';

/** nmap -oX output of a scan that started at `start` (Unix seconds) and took 2 s. */
function nmapXml(args: string | undefined, hosts: string, start = 1795385382): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap"${args === undefined ? '' : ` args="${args}"`} start="${start}" version="7.93" xmloutputversion="1.05">
<scaninfo type="connect" protocol="tcp" numservices="1" services="22"/>
${hosts}
<runstats><finished time="${start + 2}" elapsed="2.00" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
`;
}

/** A host of the file: up, with tcp/22 open and tcp/80 closed (or the ports given). */
function host(address: string, ports = ['22:open', '80:closed'], product = 'OpenSSH'): string {
  const listed = ports.map((p) => {
    const [port, state] = p.split(':');
    return `<port protocol="tcp" portid="${port}"><state state="${state}" reason="syn-ack"/><service name="ssh" product="${product}"/></port>`;
  });
  return `<host starttime="1795385382" endtime="1795385383"><status state="up" reason="user-set"/>
<address addr="${address}" addrtype="${address.includes(':') ? 'ipv6' : 'ipv4'}"/>
<hostnames></hostnames><ports>${listed.join('')}</ports></host>`;
}

/**
 * The pieces the import stores, as the store reads them: a start-over (PiecesStartOver) drops those before it, as
 * the real store's savepoint does.
 */
function recordPieces(batches: FakeBatchRepository): HostRows[] & { startOvers: number } {
  const stored = Object.assign([] as HostRows[], { startOvers: 0 });
  const store = batches.storeResultInPieces.bind(batches);
  async function* recorded(pieces: Iterable<HostRows> | AsyncIterable<HostRows>): AsyncGenerator<HostRows> {
    stored.length = 0;
    try {
      for await (const piece of pieces) {
        stored.push(piece);
        yield piece;
      }
    } catch (error) {
      if (!(error instanceof PiecesStartOver)) throw error;
      stored.startOvers++;
      throw new PiecesStartOver(recorded(error.pieces));
    }
  }
  jest
    .spyOn(batches, 'storeResultInPieces')
    .mockImplementation((input) => store({ ...input, hosts: recorded(input.hosts) }));
  return stored;
}

describe('ResultsImportService', () => {
  const OWNER = 1;
  const SCAN = 7;

  /** The import over RunService's real parts and fakes of the tables and queues; scan 7 is OWNER's. */
  function setUp() {
    const system = newRunService();
    system.scans.scans.set(SCAN, { id: SCAN, nmapFlags: ['-sS'], runner: 'asyncio' });
    const reports = {
      ownScan: async (ownerId: number, scanId: number) => {
        if (ownerId !== OWNER || scanId !== SCAN) throw new NotFoundException({ error: 'Scan not found' });
      },
    } as unknown as ReportsService;
    const scope = new ScanScope(['127.0.0.0/8', '::1/128'], []);
    const imports = new ResultsImportService(reports, scope, system.service as RunService);
    return { ...system, imports };
  }

  it('stores the file as a completed run with trigger import, its one batch, and queues its diff', async () => {
    const { imports, runs, batches, deltaJobs, events } = setUp();
    const xml = nmapXml(
      'nmap -sT -p 22,80 -oX out.xml 127.0.0.5 ::1',
      host('127.0.0.5') + host('::1', ['22:open']),
    );
    const answer = await imports.import(OWNER, SCAN, xml);
    expect(answer).toEqual({
      status: 'success',
      message: 'Scan results imported successfully',
      result_id: 1,
      summary: { hosts: 2, hosts_up: 2, open_ports: 2 },
    });
    expect(runs.row(1)).toMatchObject({
      scanId: SCAN,
      status: 'completed',
      trigger: 'import',
      runner: 'asyncio',
      nmapFlags: ['-sT', '-p22,80'],
      targets: ['127.0.0.5', '::1'],
      chunkSize: 2,
      concurrency: 1,
      batchesTotal: 1,
      startedAt: new Date(1795385382_000),
      finishedAt: new Date(1795385384_000),
    });
    expect(batches.rows).toEqual([
      expect.objectContaining({
        resultId: 1,
        seq: 1,
        targets: ['127.0.0.5', '::1'],
        status: 'completed',
        attempts: 1,
        workerId: 'import',
        hostsUp: 2,
        openPorts: 2,
        startedAt: new Date(1795385382_000),
        finishedAt: new Date(1795385384_000),
      }),
    ]);
    expect(deltaJobs.queued).toEqual([{ scanId: SCAN, resultId: 1 }]);
    // Nothing ran: no scan event goes out.
    expect(events.events).toEqual([]);
  });

  it('stores the options a run of the scan stores when the file has no args', async () => {
    const { imports, runs } = setUp();
    await imports.import(OWNER, SCAN, nmapXml(undefined, host('127.0.0.5')));
    expect(runs.row(1).nmapFlags).toEqual(['-sS']);
  });

  it("answers 404 for another user's scan, storing nothing", async () => {
    const { imports, runs } = setUp();
    await expect(imports.import(2, SCAN, nmapXml(undefined, host('127.0.0.5')))).rejects.toBeInstanceOf(
      NotFoundException,
    );
    expect(runs.rows).toEqual([]);
  });

  it('refuses a DOCTYPE with an internal subset, malformed XML and hosts outside the scope', async () => {
    const { imports, runs, deltaJobs } = setUp();
    const entity = nmapXml(undefined, host('127.0.0.5')).replace(
      '<!DOCTYPE nmaprun>',
      '<!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    );
    await expect(imports.import(OWNER, SCAN, entity)).rejects.toMatchObject({
      response: { error: 'nmap XML refused: entity declarations are refused' },
    });
    await expect(imports.import(OWNER, SCAN, '<nmaprun><host>')).rejects.toBeInstanceOf(BadRequestException);
    const outside = imports.import(OWNER, SCAN, nmapXml(undefined, host('127.0.0.5') + host('192.0.2.1')));
    await expect(outside).rejects.toBeInstanceOf(ScopeError);
    await expect(outside).rejects.toMatchObject({ outOfScope: ['192.0.2.1'] });
    expect(runs.rows).toEqual([]);
    expect(deltaJobs.queued).toEqual([]);
  });

  it('answers 400 naming each value the tables cannot hold, storing nothing', async () => {
    const { imports, runs } = setUp();
    const xml = nmapXml(undefined, host('127.0.0.5', ['22:open'], 'x'.repeat(300)));
    await expect(imports.import(OWNER, SCAN, xml)).rejects.toMatchObject({
      response: {
        error: 'nmap XML refused: "127.0.0.5" tcp/22: product is 300 characters long (at most 255)',
        details: ['"127.0.0.5" tcp/22: product is 300 characters long (at most 255)'],
      },
    });
    expect(runs.rows).toEqual([]);
  });

  it('leaves nothing half-imported behind when storing the hosts fails', async () => {
    const { imports, runs, batches, deltaJobs } = setUp();
    jest.spyOn(batches, 'storeResult').mockRejectedValueOnce(new Error('connection lost'));
    await expect(imports.import(OWNER, SCAN, nmapXml(undefined, host('127.0.0.5')))).rejects.toThrow(
      'connection lost',
    );
    expect(runs.rows).toEqual([]);
    expect(batches.rows).toEqual([]);
    expect(deltaJobs.queued).toEqual([]);
  });

  describe('a file read in pieces as it arrives (issue 20)', () => {
    /** The text in pieces of `size` characters, as the request body reader hands them over. */
    async function* pieces(xml: string, size = 1000): AsyncGenerator<string> {
      for (let i = 0; i < xml.length; i += size) yield xml.slice(i, i + size);
    }
    /** More hosts than one stored piece holds (IMPORT_PIECE_HOSTS), 127.0.x.y from 127.0.16.0. */
    const many = (count: number) =>
      Array.from({ length: count }, (_, i) => host(`127.0.${16 + (i >> 8)}.${i & 255}`, ['22:open'])).join(
        '',
      );
    const down = (address: string) =>
      `<host><status state="down" reason="no-response"/><address addr="${address}" addrtype="ipv4"/></host>`;

    it('stores an address listed in two pieces as one host: up wins, ports joined', async () => {
      const { imports, runs } = setUp();
      const hosts = down('127.0.0.9') + many(IMPORT_PIECE_HOSTS + 10) + host('127.0.0.9', ['80:open']);
      const answer = await imports.import(OWNER, SCAN, pieces(nmapXml(undefined, hosts)));
      const total = IMPORT_PIECE_HOSTS + 11;
      expect(answer.summary).toEqual({ hosts: total, hosts_up: total, open_ports: total });
      expect(runs.row(1).targets).toHaveLength(total);
      expect(runs.row(1).targets[0]).toBe('127.0.0.9');
    });

    it('stores the hosts and targets of a file out of address order in address order, IPv4 before IPv6', async () => {
      const { imports, runs, batches } = setUp();
      const count = IMPORT_PIECE_HOSTS + 10;
      // 127.0.16.0 … in a shuffled order (as --randomize-hosts writes them), ::1 first, 127.0.0.9 listed twice.
      const order = Array.from({ length: count }, (_, i) => (i * 7919) % count);
      const address = (i: number) => `127.0.${16 + (i >> 8)}.${i & 255}`;
      const hosts =
        host('::1', ['22:open']) +
        down('127.0.0.9') +
        order.map((i) => host(address(i), ['22:open'])).join('') +
        host('127.0.0.9', ['80:open']);
      const stored = recordPieces(batches);
      const answer = await imports.import(OWNER, SCAN, pieces(nmapXml(undefined, hosts)));
      expect(answer.summary).toEqual({ hosts: count + 2, hosts_up: count + 2, open_ports: count + 2 });
      const sorted = ['127.0.0.9', ...Array.from({ length: count }, (_, i) => address(i)), '::1'];
      expect(runs.row(1).targets).toEqual(sorted);
      expect(stored.map((piece) => piece.count)).toEqual([IMPORT_PIECE_HOSTS, 12]);
      const storedHosts = stored.flatMap((piece) => piece.hosts());
      expect(storedHosts.map((h) => h.address)).toEqual(sorted);
      expect(storedHosts[0]).toMatchObject({ state: 'up', ports: [expect.objectContaining({ port: 80 })] });
    });

    it('stores the pieces of a file in address order as they are complete, once each', async () => {
      const { imports, runs, batches } = setUp();
      const stored = recordPieces(batches);
      const answer = await imports.import(
        OWNER,
        SCAN,
        pieces(nmapXml(undefined, many(2 * IMPORT_PIECE_HOSTS + 1))),
      );
      expect(answer.summary.hosts).toBe(2 * IMPORT_PIECE_HOSTS + 1);
      expect(stored.startOvers).toBe(0);
      expect(stored.map((piece) => piece.count)).toEqual([IMPORT_PIECE_HOSTS, IMPORT_PIECE_HOSTS, 1]);
      expect(runs.row(1).targets).toHaveLength(2 * IMPORT_PIECE_HOSTS + 1);
    });

    it('starts over, in address order, when a file turns out of order after pieces were stored', async () => {
      const { imports, runs, batches } = setUp();
      const stored = recordPieces(batches);
      const count = 2 * IMPORT_PIECE_HOSTS + 10;
      const hosts = many(count) + host('127.0.0.3', ['80:open']);
      const answer = await imports.import(OWNER, SCAN, pieces(nmapXml(undefined, hosts)));
      expect(answer.summary).toEqual({ hosts: count + 1, hosts_up: count + 1, open_ports: count + 1 });
      expect(stored.startOvers).toBe(1);
      const sorted = [
        '127.0.0.3',
        ...Array.from({ length: count }, (_, i) => `127.0.${16 + (i >> 8)}.${i & 255}`),
      ];
      expect(stored.flatMap((piece) => piece.hosts()).map((h) => h.address)).toEqual(sorted);
      expect(runs.row(1).targets).toEqual(sorted);
    });

    it('keeps a file already in address order as it was read', async () => {
      const { imports, runs } = setUp();
      const hosts = many(10) + host('::1', ['22:open']);
      await imports.import(OWNER, SCAN, pieces(nmapXml(undefined, hosts)));
      expect(runs.row(1).targets).toEqual([...Array.from({ length: 10 }, (_, i) => `127.0.16.${i}`), '::1']);
    });

    it('refuses a host outside the scope or malformed XML at the end of a long file, storing nothing', async () => {
      const { imports, runs, batches } = setUp();
      const outside = nmapXml(undefined, many(IMPORT_PIECE_HOSTS + 10) + host('192.0.2.1'));
      await expect(imports.import(OWNER, SCAN, pieces(outside))).rejects.toMatchObject({
        outOfScope: ['192.0.2.1'],
      });
      const broken = nmapXml(undefined, many(IMPORT_PIECE_HOSTS + 10)).replace('</runstats>', '</runstat>');
      await expect(imports.import(OWNER, SCAN, pieces(broken))).rejects.toBeInstanceOf(BadRequestException);
      const cut = nmapXml(undefined, many(IMPORT_PIECE_HOSTS + 10)).replace('</nmaprun>', '');
      await expect(imports.import(OWNER, SCAN, pieces(cut))).rejects.toMatchObject({
        response: { error: 'nmap XML output is truncated (no closing </nmaprun>)' },
      });
      expect(runs.rows).toEqual([]);
      expect(batches.rows).toEqual([]);
    });

    it('names a refused prolog before a parse error that comes first', async () => {
      const { imports } = setUp();
      const xml = '<nmaprun><host></nmaprun>' + ' '.repeat(5000) + '<!ENTITY x "y">';
      await expect(imports.import(OWNER, SCAN, pieces(xml))).rejects.toMatchObject({
        response: { error: 'nmap XML refused: entity declarations are refused' },
      });
    });
  });
});
