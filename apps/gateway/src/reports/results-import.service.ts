// Imports an nmap XML file (-oX, made elsewhere) as a completed run of a scan, then hands it to the delta
// service like any finished run: a team brings its history and diffs against it.
import { EntityManager } from '@mikro-orm/core';
import { BadRequestException, Injectable } from '@nestjs/common';
import { DeltaJobs } from '@nso/events';
import { NmapXmlError, parseNmapXml, ScanScope, ScopeError, type NmapScanResult } from '@nso/nmap';
import { BatchRepository, knexOf, resultValueProblems, Scan } from '@nso/persistence';
import { importedFlags, xmlPrologProblem } from './nmap-import';
import { ReportsService } from './reports.service';

@Injectable()
export class ResultsImportService {
  constructor(
    private readonly em: EntityManager,
    private readonly reports: ReportsService,
    private readonly scope: ScanScope,
    private readonly deltaJobs: DeltaJobs,
    private readonly batches: BatchRepository,
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
    const scan = await this.em.fork().findOneOrFail(Scan, { id: scanId });
    const addresses = hosts.map((h) => h.address);
    const { startedAt, finishedAt } = runTimes(parsed);
    const knex = knexOf(this.em);
    const { resultId, batchId } = await knex.transaction(async (trx) => {
      const [run]: Array<{ id: number | string }> = await trx('scan_results')
        .insert({
          scan_id: scanId,
          status: 'running',
          trigger: 'import',
          runner: scan.runner,
          nmap_flags: JSON.stringify(importedFlags(parsed.args) ?? scan.nmapFlags),
          targets: JSON.stringify(addresses),
          chunk_size: Math.max(1, addresses.length),
          concurrency: 1,
          targets_total: addresses.length,
          batches_total: 1,
          created_at: new Date(),
          started_at: startedAt,
        })
        .returning(['id']);
      const [batch]: Array<{ id: number | string }> = await trx('batches')
        .insert({
          result_id: Number(run.id),
          seq: 1,
          targets: JSON.stringify(addresses),
          status: 'running',
          attempts: 1,
          worker_id: 'import',
          created_at: new Date(),
          started_at: startedAt,
        })
        .returning(['id']);
      return { resultId: Number(run.id), batchId: Number(batch.id) };
    });
    try {
      await this.batches.storeResult({
        batchId,
        workerId: 'import',
        exitCode: 0,
        stderr: null,
        finishedAt,
        hosts,
      });
      await knex('scan_results')
        .where({ id: resultId })
        .update({ status: 'completed', finished_at: finishedAt });
    } catch (error) {
      // Nothing half-imported stays behind: the run's rows go with it.
      await knex('scan_results').where({ id: resultId }).delete();
      throw error;
    }
    await this.deltaJobs.enqueue({ scanId, resultId });
    const stored = await knex('scan_results').where({ id: resultId }).first();
    return {
      status: 'success',
      message: 'Scan results imported successfully',
      result_id: resultId,
      summary: {
        hosts: addresses.length,
        hosts_up: Number(stored.hosts_up),
        open_ports: Number(stored.open_ports),
      },
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
