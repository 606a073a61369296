import { Module } from '@nestjs/common';
import { RunsModule } from '@nso/runs';
import { ReportsController } from './reports.controller';
import { ResultsImportController } from './results-import.controller';
import { ResultsImportService } from './results-import.service';
import { ReportExportService } from './report-export.service';
import { ReportsService } from './reports.service';

/** Seed 003 "Delta Reports": reading, summarising, exporting and deleting the delta service's reports. */
@Module({
  imports: [RunsModule],
  controllers: [ReportsController, ResultsImportController],
  providers: [ReportsService, ReportExportService, ResultsImportService],
})
export class ReportsModule {}
