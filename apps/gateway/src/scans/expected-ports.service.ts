// A scan's expected ports against its runs (docs/delta.md "Expected ports"): take the latest run's open ports as
// the expected state, and judge the latest run against it.
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import {
  expectedPortsOfRun,
  runExposure,
  scanOptionsOf,
  type ExpectedPorts,
  type ExposureRun,
} from '@nso/delta';
import { ExposureQueries, ScanRepository, type JudgedRunRecord, type Scan } from '@nso/persistence';

/** Seed-free routes of issue 21 over a scan definition's `expected_ports`. Another user's scan is a 404. */
@Injectable()
export class ExpectedPortsService {
  constructor(
    private readonly scans: ScanRepository,
    private readonly queries: ExposureQueries,
  ) {}

  /**
   * `POST /api/scans/{scan_id}/expected/accept-current`: stores the open ports of the scan's latest completed run
   * that is not a confirmation rescan (trigger `verify`) as its `expected_ports` (expectedPortsOfRun: per host,
   * normal form, hosts without an open port left out; `{"*": []}` when none is open), replacing what was set.
   * 404 for another user's scan; 409 when the scan has no completed run.
   */
  async acceptCurrent(ownerId: number, scanId: number) {
    await this.ownScan(ownerId, scanId);
    const run = await this.judgedRun(scanId);
    const { hosts } = await this.queries.contents(run.resultId);
    const expected = expectedPortsOfRun(hosts) as Record<string, string[]>;
    const scan = await this.scans.update(scanId, { expectedPorts: expected });
    return {
      message: `Expected ports set from result ${run.resultId}`,
      scan_id: scanId,
      result_id: run.resultId,
      expected_ports: scan.expectedPorts,
    };
  }

  /**
   * `GET /api/scans/{scan_id}/exposure`: the latest completed non-verify run judged against the scan's expected
   * ports (runExposure: open ports `expected` or `unexpected` with their service, expected ports the run looked at
   * and did not find open `missing`). Without expected ports nothing is judged: empty lists and a `note`.
   * 404 for another user's scan; 409 when the scan has no completed run.
   */
  async exposure(ownerId: number, scanId: number) {
    const scan = await this.ownScan(ownerId, scanId);
    const run = await this.judgedRun(scanId);
    const base = {
      scan_id: scanId,
      result_id: run.resultId,
      result_trigger: run.trigger,
      result_finished_at: run.finishedAt?.toISOString() ?? null,
      expected_ports: scan.expectedPorts ?? null,
    };
    if (!scan.expectedPorts) {
      return {
        ...base,
        counts: { expected: 0, unexpected: 0, missing: 0 },
        expected: [],
        unexpected: [],
        missing: [],
        note:
          'No expected ports are set for this scan: set expected_ports (PUT /api/scans/{scan_id}) or take the ' +
          'latest run as expected (POST /api/scans/{scan_id}/expected/accept-current)',
      };
    }
    const contents = await this.queries.contents(run.resultId);
    const judged: ExposureRun = {
      hosts: contents.hosts,
      scanned: contents.scanned,
      options: scanOptionsOf(run.nmapFlags),
    };
    // Stored in normal form: every write goes through parseExpectedPorts (the definition's PUT, accept-current).
    const exposure = runExposure(judged, scan.expectedPorts as ExpectedPorts);
    return {
      ...base,
      counts: {
        expected: exposure.expected.length,
        unexpected: exposure.unexpected.length,
        missing: exposure.missing.length,
      },
      ...exposure,
    };
  }

  private async ownScan(ownerId: number, scanId: number): Promise<Scan> {
    const scan = await this.scans.findOwned(ownerId, scanId);
    if (!scan) throw new NotFoundException({ error: 'Scan not found' });
    return scan;
  }

  /** The run judged (ExposureQueries.latestJudgedRun), or 409 when the scan has none. */
  private async judgedRun(scanId: number): Promise<JudgedRunRecord> {
    const run = await this.queries.latestJudgedRun(scanId);
    if (!run) {
      throw new ConflictException({
        error: `Scan ${scanId} has no completed run yet`,
        scan_id: scanId,
      });
    }
    return run;
  }
}
