// Imports an nmap XML file (-oX, made elsewhere) as a completed run of a scan, then hands it to the delta
// service like any finished run: a team brings its history and diffs against it. The body is read to its end as
// it arrives (each piece through the prolog guard, then to the import's parse thread: ImportParseThread, which
// parses it meanwhile; at most IMPORT_READ_AHEAD bytes wait for it), and only then is the run made and stored
// (RunService.importRun), from pieces of rows (HostRows) the thread hands over as it completes them: the parse and
// checks on the thread overlap the database's statements on this one. The file is refused or accepted once read
// whole; a refusal after pieces were stored rolls them back and removes the run. The gateway never holds the file
// as one string nor its hosts as objects.
import { BadRequestException, Injectable } from '@nestjs/common';
import { ScanScope, ScopeError } from '@nso/nmap';
import { RunService } from '@nso/runs';
import type { ImportRefusal } from './imported-hosts';
import type { ParsedImportFacts } from './import-parse';
import { ImportParseThread, ImportRefusedError } from './import-parse.thread';
import { finishTimeIn, importedFlags, XmlPrologGuard } from './nmap-import';
import { ReportsService } from './reports.service';

const refused = (problem: string) => new BadRequestException({ error: `nmap XML refused: ${problem}` });
/** Text read from the body's end: enough for nmap's `<runstats>` (about 250 characters). */
const TAIL = 4096;

@Injectable()
export class ResultsImportService {
  constructor(
    private readonly reports: ReportsService,
    private readonly scope: ScanScope,
    private readonly runs: RunService,
  ) {}

  /**
   * Stores the nmap XML `body` (the whole text, or its pieces as they arrive: xmlBodyPieces) as a completed run
   * of the user's scan (trigger `import`) and queues its diff. The body is read to its end before anything is
   * stored (on SQLite a slow client never holds the write lock; the parse thread reads it meanwhile, at most
   * IMPORT_READ_AHEAD bytes behind), and the file is accepted only once read whole and
   * checked: what was stored of it before a refusal is dropped with its run. 404 for another user's scan (before
   * the body is read); 400 for a refused DOCTYPE or entity declaration (XmlPrologGuard, checked on each piece
   * before the parser sees it, named before any other problem), malformed or truncated XML (NmapXmlError: also
   * times that are no Unix time, a finish before the start, an address that is no IP), a host outside the scan
   * scope (ScopeError, like targets), or a value the tables cannot hold (resultValueProblems: text over 255
   * characters, NUL). The body's own errors (413, 400) come through unchanged. The run's targets and coverage
   * are the addresses the file lists, in canonical form and each once, in address order; its nmap_flags come
   * from the file's `args` (the scan's own flags when the file has none). Without `start` the run starts when it
   * finished; without a finish time it finishes after `elapsed`, else now (never before it started).
   */
  async import(ownerId: number, scanId: number, body: string | AsyncIterable<string>) {
    await this.reports.ownScan(ownerId, scanId);
    const parse = new ImportParseThread(this.scope);
    try {
      const guard = new XmlPrologGuard();
      // The last two pieces: the end of the text, where nmap writes its finish time.
      let last = '';
      let beforeLast = '';
      for await (const piece of typeof body === 'string' ? [body] : body) {
        const problem = guard.check(piece);
        if (problem) throw refused(problem);
        parse.write(piece);
        // Past IMPORT_READ_AHEAD bytes ahead of the parse, the rest of the body waits (in the client and the socket).
        await parse.room();
        beforeLast = last;
        last = piece;
      }
      const problem = guard.end();
      if (problem) throw refused(problem);
      parse.end();
      // A file refused before its first piece is complete (most refused files) makes no run.
      await parse.started();
      const now = Date.now() / 1000;
      let facts: ParsedImportFacts | undefined;
      const run = await this.runs.importRun({
        scanId,
        hosts: parse.pieces(),
        facts: () => {
          facts = parse.facts();
          const { startedAt, finishedAt } = runTimes(facts, now);
          return { nmapFlags: importedFlags(facts.args), targets: facts.targets, startedAt, finishedAt };
        },
        datedAt: finishTimeIn((beforeLast + last).slice(-TAIL)),
      });
      return {
        status: 'success',
        message: 'Scan results imported successfully',
        result_id: run.resultId,
        summary: { hosts: facts?.targets.length ?? 0, hosts_up: run.hostsUp, open_ports: run.openPorts },
      };
    } catch (error) {
      if (error instanceof ImportRefusedError) throw refusalAnswer(error.refusal);
      throw error;
    } finally {
      await parse.close();
    }
  }
}

/** The answer to a refused file: ScopeError (400, like targets) or a 400 naming the problem. */
function refusalAnswer(refusal: ImportRefusal): Error {
  switch (refusal.kind) {
    case 'scope':
      return new ScopeError(refusal.message, refusal.addresses);
    case 'values':
      return new BadRequestException({ error: refusal.error, details: refusal.details });
    case 'xml':
      return new BadRequestException({ error: refusal.error });
  }
}

/**
 * The imported run's start and finish (see ResultsImportService.import), `now` in Unix seconds: never a finish
 * before the start.
 */
function runTimes(parsed: ParsedImportFacts, now: number): { startedAt: Date; finishedAt: Date } {
  const start = parsed.startedAt ?? parsed.finishedAt ?? now;
  const finish =
    parsed.finishedAt ??
    (parsed.startedAt !== undefined && parsed.elapsed !== undefined
      ? start + parsed.elapsed
      : Math.max(start, now));
  return { startedAt: new Date(start * 1000), finishedAt: new Date(finish * 1000) };
}
