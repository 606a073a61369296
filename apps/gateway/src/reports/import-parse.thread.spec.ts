import { ScanScope } from '@nso/nmap';
import { nmapXml, type XmlHost } from '../../../../test/support/nmap-xml';
import { IMPORT_PIECE_HOSTS } from './imported-hosts';
import { ImportParseThread, ImportRefusedError } from './import-parse.thread';

// The import's parse thread as the service drives it (results-import.service.ts): text in, pieces out while the
// rest is parsed, the text read ahead of the parse bounded. Runs the thread from its TypeScript sources.
/** Whether the thread's facts (the end of the file) are known yet. */
function factsKnown(thread: ImportParseThread): boolean {
  try {
    thread.facts();
    return true;
  } catch {
    return false;
  }
}

describe('ImportParseThread', () => {
  const scope = new ScanScope(['127.0.0.0/8', '::1/128'], []);
  const hosts = (count: number): XmlHost[] =>
    Array.from({ length: count }, (_, i) => ({
      address: `127.7.${i >> 8}.${i & 255}`,
      state: 'up',
      ports: [{ protocol: 'tcp', port: 22, state: 'open' }],
    }));
  /** The text in pieces of 64 KiB, as the body reader hands them over. */
  const piecesOf = (xml: string) =>
    Array.from({ length: Math.ceil(xml.length / 65536) }, (_, i) => xml.slice(i * 65536, (i + 1) * 65536));

  let thread: ImportParseThread | undefined;
  afterEach(async () => {
    await thread?.close();
    thread = undefined;
  });

  it('hands pieces over before the verdict, reading at most its bound ahead of the parse', async () => {
    const count = 3 * IMPORT_PIECE_HOSTS + 5;
    const xml = nmapXml('nmap -sT -p 22 127.7.0.0/16', hosts(count));
    expect(xml.length).toBeGreaterThan(3 << 20);
    const bound = 1 << 20;
    thread = new ImportParseThread(scope, bound);
    let mostAhead = 0;
    for (const piece of piecesOf(xml)) {
      thread.write(piece);
      await thread.room();
      mostAhead = Math.max(mostAhead, thread.ahead);
    }
    thread.end();
    expect(mostAhead).toBeLessThanOrEqual(bound);
    await thread.started();
    const counts: number[] = [];
    let verdictFirst = false;
    for await (const piece of thread.pieces()) {
      if (counts.length === 0) verdictFirst = factsKnown(thread!);
      counts.push(piece.count);
    }
    expect(counts).toEqual([IMPORT_PIECE_HOSTS, IMPORT_PIECE_HOSTS, IMPORT_PIECE_HOSTS, 5]);
    expect(thread.facts()).toMatchObject({ args: 'nmap -sT -p 22 127.7.0.0/16', startedAt: 1795385382 });
    expect(thread.facts().targets).toHaveLength(count);
    // The first piece came before the file's facts (its end) were known.
    expect(verdictFirst).toBe(false);
  });

  it("throws the thread's own failure (an error there is no refusal: a 500)", async () => {
    // A scope the thread cannot make: it fails as it starts.
    thread = new ImportParseThread({ allow: ['not a range'], deny: [] } as unknown as ScanScope);
    thread.write(nmapXml('nmap', hosts(1)));
    await thread.room();
    thread.end();
    const started = thread.started();
    await expect(started).rejects.toThrow(/not a range/);
    await expect(started).rejects.not.toBeInstanceOf(ImportRefusedError);
  });

  it('gives a refusal found at the end after the pieces handed over before it', async () => {
    const xml = nmapXml('nmap', [
      ...hosts(3 * IMPORT_PIECE_HOSTS),
      { address: '192.0.2.1', state: 'up', ports: [] },
    ]);
    thread = new ImportParseThread(scope);
    for (const piece of piecesOf(xml)) thread.write(piece);
    thread.end();
    await thread.started();
    const counts: number[] = [];
    const read = (async () => {
      for await (const piece of thread!.pieces()) counts.push(piece.count);
    })();
    await expect(read).rejects.toBeInstanceOf(ImportRefusedError);
    await expect(read).rejects.toMatchObject({ refusal: { kind: 'scope', addresses: ['192.0.2.1'] } });
    // Pieces complete in the blocks (1 MiB) before the one with the refused host were handed over.
    expect(counts.length).toBeGreaterThan(0);
    expect(counts.every((count) => count === IMPORT_PIECE_HOSTS)).toBe(true);
  });
});
