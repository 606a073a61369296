// Imports an nmap XML file (-oX, made elsewhere) as a completed run of a scan, then hands it to the delta
// service like any finished run: a team brings its history and diffs against it. The file is read as it arrives
// (prolog guard → streaming parser → ImportedHosts), checked whole, then stored by a run command
// (RunService.importRun) from pieces of rows (HostRows): the gateway never holds the file or all its hosts as objects.
import { BadRequestException, Injectable } from '@nestjs/common';
import { NmapXmlError, NmapXmlStreamParser, ScanScope, type NmapRunSummary } from '@nso/nmap';
import { RunService } from '@nso/runs';
import { ImportedHosts } from './imported-hosts';
import { importedFlags, XmlPrologGuard } from './nmap-import';
import { ReportsService } from './reports.service';

const refused = (problem: string) => new BadRequestException({ error: `nmap XML refused: ${problem}` });

@Injectable()
export class ResultsImportService {
  constructor(
    private readonly reports: ReportsService,
    private readonly scope: ScanScope,
    private readonly runs: RunService,
  ) {}

  /**
   * Stores the nmap XML `body` (the whole text, or its pieces as they arrive: xmlBodyPieces) as a completed run
   * of the user's scan (trigger `import`) and queues its diff. The whole file is read and checked before anything
   * is stored: 404 for another user's scan (before the body is read); 400 for a refused DOCTYPE or entity
   * declaration (XmlPrologGuard, checked on each piece before the parser sees it), malformed or truncated XML
   * (NmapXmlError: also times that are no Unix time, a finish before the start, an address that is no IP), a
   * host outside the scan scope (ScopeError, like targets), or a value the tables cannot hold
   * (resultValueProblems: text over 255 characters, NUL). The body's own errors (413, 400) come through
   * unchanged. The run's targets and coverage are the addresses the file lists, in canonical form and each once;
   * its nmap_flags come from the file's `args` (the scan's own flags when the file has none). Without `start`
   * the run starts when it finished; without a finish time it finishes after `elapsed`, else now (never before it
   * started).
   */
  async import(ownerId: number, scanId: number, body: string | AsyncIterable<string>) {
    await this.reports.ownScan(ownerId, scanId);
    const hosts = new ImportedHosts(this.scope);
    const parser = new NmapXmlStreamParser({ onHost: (host) => hosts.add(host) });
    const guard = new XmlPrologGuard();
    let malformed: NmapXmlError | undefined;
    for await (const piece of typeof body === 'string' ? [body] : body) {
      const problem = guard.check(piece);
      if (problem) throw refused(problem);
      // After a parse error the rest is still read through the guard: a refused prolog is named first.
      if (malformed) continue;
      try {
        parser.write(piece);
      } catch (error) {
        if (!(error instanceof NmapXmlError)) throw error;
        malformed = error;
      }
    }
    const problem = guard.end();
    if (problem) throw refused(problem);
    let parsed: NmapRunSummary;
    try {
      if (malformed) throw malformed;
      parsed = parser.end();
    } catch (error) {
      if (error instanceof NmapXmlError) throw new BadRequestException({ error: error.message });
      throw error;
    }
    hosts.throwIfRefused();
    const { startedAt, finishedAt } = runTimes(parsed);
    const run = await this.runs.importRun({
      scanId,
      nmapFlags: importedFlags(parsed.args),
      targets: hosts.targets,
      hosts: hosts.hostPieces(),
      startedAt,
      finishedAt,
    });
    return {
      status: 'success',
      message: 'Scan results imported successfully',
      result_id: run.resultId,
      summary: { hosts: hosts.count, hosts_up: run.hostsUp, open_ports: run.openPorts },
    };
  }
}

/** The imported run's start and finish (see ResultsImportService.import): never a finish before the start. */
function runTimes(parsed: NmapRunSummary): { startedAt: Date; finishedAt: Date } {
  const now = Date.now() / 1000;
  const start = parsed.startedAt ?? parsed.finishedAt ?? now;
  const finish =
    parsed.finishedAt ??
    (parsed.startedAt !== undefined && parsed.elapsed !== undefined
      ? start + parsed.elapsed
      : Math.max(start, now));
  return { startedAt: new Date(start * 1000), finishedAt: new Date(finish * 1000) };
}
