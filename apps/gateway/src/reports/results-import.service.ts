// Imports an nmap XML file (-oX, made elsewhere) as a completed run of a scan, then hands it to the delta
// service like any finished run: a team brings its history and diffs against it. This reads and checks the
// file; storing it is a run command (RunService.importRun).
import { BadRequestException, Injectable } from '@nestjs/common';
import { NmapXmlError, parseNmapXml, ScanScope, ScopeError, type NmapScanResult } from '@nso/nmap';
import { resultValueProblems } from '@nso/persistence';
import { RunService } from '@nso/runs';
import { importedFlags, xmlPrologProblem } from './nmap-import';
import { ReportsService } from './reports.service';

@Injectable()
export class ResultsImportService {
  constructor(
    private readonly reports: ReportsService,
    private readonly scope: ScanScope,
    private readonly runs: RunService,
  ) {}

  /**
   * Stores `xml` as a completed run of the user's scan (trigger `import`) and queues its diff. Everything is
   * checked before anything is stored: 404 for another user's scan; 400 for a refused DOCTYPE or entity
   * declaration, malformed or truncated XML (NmapXmlError: also times that are no Unix time, a finish before the
   * start, an address that is no IP), a host outside the scan scope (ScopeError, like targets), or a value the
   * tables cannot hold (resultValueProblems: text over 255 characters, NUL). The run's targets and coverage are
   * the addresses the file lists, in canonical form and each once (parseNmapXml); its nmap_flags come from the
   * file's `args` (the scan's own flags when the file has none). Without `start` the run starts when it finished;
   * without a finish time it finishes after `elapsed`, else now (never before it started).
   */
  async import(ownerId: number, scanId: number, xml: string) {
    await this.reports.ownScan(ownerId, scanId);
    const problem = xmlPrologProblem(xml);
    if (problem) throw new BadRequestException({ error: `nmap XML refused: ${problem}` });
    let parsed: NmapScanResult;
    try {
      parsed = await parseNmapXml(xml);
    } catch (error) {
      if (error instanceof NmapXmlError) throw new BadRequestException({ error: error.message });
      throw error;
    }
    const hosts = parsed.hosts.filter((h) => h.addressType !== 'mac');
    const outside = hosts.map((h) => h.address).filter((a) => !this.scope.contains(a));
    if (outside.length > 0) {
      throw new ScopeError(
        `${outside.length} address(es) of the file are outside the scan scope`,
        outside.slice(0, 100),
      );
    }
    const problems = resultValueProblems(hosts);
    if (problems.length > 0) {
      throw new BadRequestException({
        error: `nmap XML refused: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
        details: problems.slice(0, 100),
      });
    }
    const { startedAt, finishedAt } = runTimes(parsed);
    const run = await this.runs.importRun({
      scanId,
      nmapFlags: importedFlags(parsed.args),
      hosts,
      startedAt,
      finishedAt,
    });
    return {
      status: 'success',
      message: 'Scan results imported successfully',
      result_id: run.resultId,
      summary: { hosts: hosts.length, hosts_up: run.hostsUp, open_ports: run.openPorts },
    };
  }
}

/** The imported run's start and finish (see ResultsImportService.import): never a finish before the start. */
function runTimes(parsed: NmapScanResult): { startedAt: Date; finishedAt: Date } {
  const now = Date.now() / 1000;
  const start = parsed.startedAt ?? parsed.finishedAt ?? now;
  const finish =
    parsed.finishedAt ??
    (parsed.startedAt !== undefined && parsed.elapsed !== undefined
      ? start + parsed.elapsed
      : Math.max(start, now));
  return { startedAt: new Date(start * 1000), finishedAt: new Date(finish * 1000) };
}
