// The CSV and ZIP downloads of delta reports, streamed: a CSV is written row by row as the client reads it, its
// change rows read from delta_changes a page at a time only as the CSV writer wants them; a ZIP of a scan's
// reports opens each report only when the ZIP writer reaches its entry (yazl's lazy streams), so a ZIP of 500
// reports holds one page of one report in memory at a time.
import { Readable } from 'node:stream';
import { Injectable, StreamableFile } from '@nestjs/common';
import { deltaCsvFileName, deltaCsvStream, type CsvDeltaData, type CsvReportHeader } from '@nso/delta';
import { DeltaReportQueries, type DeltaReportRecord } from '@nso/persistence';
import { ZipFile } from 'yazl';
import { ReportsService } from './reports.service';

/** Seed 003's CSV and ZIP exports of delta reports, streamed (see the top of this file). */
@Injectable()
export class ReportExportService {
  constructor(
    private readonly queries: DeltaReportQueries,
    private readonly reports: ReportsService,
  ) {}

  /** A report's CSV: its change rows paged from delta_changes, or the lists of a report stored before them. */
  private csvOf(report: DeltaReportRecord, scanName?: string) {
    const data = (report.deltaData ?? {}) as CsvDeltaData;
    const legacy = Array.isArray(data.delta?.new_up_hosts);
    return deltaCsvStream(
      headerOf(report, scanName),
      data,
      legacy ? undefined : this.queries.changes(report.id),
    );
  }

  /** `GET /api/report/{report_id}/export/csv`: 404 for another user's report. */
  async csv(ownerId: number, reportId: number): Promise<StreamableFile> {
    const report = await this.reports.ownReport(ownerId, reportId, true);
    const scan = await this.reports.ownScan(ownerId, report.scanId);
    const stream = this.csvOf(report, scan.name);
    return new StreamableFile(stream, {
      type: 'text/csv; charset=utf-8',
      disposition: `attachment; filename="${deltaCsvFileName(report.createdAt, report.id)}"`,
    });
  }

  /** `GET /api/scan/{scan_id}/export-all`: a ZIP with one CSV per report of the scan, oldest first. */
  async zipOfScan(ownerId: number, scanId: number): Promise<StreamableFile> {
    const scan = await this.reports.ownScan(ownerId, scanId);
    const entries = await this.queries.entriesOfScan(scanId);
    const zip = new ZipFile();
    for (const entry of entries) {
      zip.addReadStreamLazy(
        deltaCsvFileName(entry.createdAt, entry.id),
        { mtime: entry.createdAt },
        (done) => {
          this.queries
            .withData(entry.id)
            .then((report) =>
              // Deleted while the ZIP was being written: an empty entry rather than a broken archive.
              done(null, report ? this.csvOf(report, scan.name) : Readable.from([])),
            )
            .catch((error: unknown) => done(error, undefined as never));
        },
      );
    }
    zip.end();
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
    return new StreamableFile(zip.outputStream as never, {
      type: 'application/zip',
      disposition: `attachment; filename="delta_reports_scan_${scanId}_${stamp}.zip"`,
    });
  }
}

function headerOf(report: DeltaReportRecord, scanName?: string): CsvReportHeader {
  return {
    id: report.id,
    scan_id: report.scanId,
    scan_name: scanName,
    baseline_result_id: report.baselineResultId,
    current_result_id: report.currentResultId,
    created_at: report.createdAt.toISOString(),
  };
}
