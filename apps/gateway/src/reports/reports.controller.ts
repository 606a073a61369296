import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { AuthUser, CurrentUser } from '../users/current-user';
import {
  AcceptChangesDto,
  AcceptChangesResponseDto,
  ReportQuery,
  ReportsQuery,
  SummaryQuery,
} from './reports.dto';
import { ReportExportService } from './report-export.service';
import { ReportsService } from './reports.service';

const scanId = new ParseIdPipe('scan_id');
const reportId = new ParseIdPipe('report_id');

/** Seed 003 "Delta Reports": paths exactly as documented there (singular `scan`, `report`, `user`). */
@ApiTags('reports')
@Controller('api')
export class ReportsController {
  constructor(
    private readonly reports: ReportsService,
    private readonly exports: ReportExportService,
  ) {}

  @Get('scan/:scanId/reports')
  @ApiOkResponse({ description: 'reports, total, pages, current_page, per_page, has_next, has_prev' })
  @ApiBadRequestResponse({ description: 'page, per_page (1-100) or only_changes malformed' })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  ofScan(@CurrentUser() user: AuthUser, @Param('scanId', scanId) id: number, @Query() query: ReportsQuery) {
    return this.reports.ofScan(user.id, id, query);
  }

  @Get('scan/:scanId/summary')
  @ApiOkResponse({ description: 'Totals over the last `days` days and the most active hosts and ports' })
  @ApiBadRequestResponse({ description: 'days malformed (1-3650)' })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  summary(@CurrentUser() user: AuthUser, @Param('scanId', scanId) id: number, @Query() query: SummaryQuery) {
    return this.reports.summary(user.id, id, query);
  }

  @Get('user/reports')
  @ApiOkResponse({ description: 'reports and a pagination object' })
  @ApiBadRequestResponse({ description: 'page, per_page (1-100) or only_changes malformed' })
  ofUser(@CurrentUser() user: AuthUser, @Query() query: ReportsQuery) {
    return this.reports.ofUser(user.id, query);
  }

  @Get('report/:reportId')
  @ApiOkResponse({ description: 'The report; with include_data=true, delta_data too' })
  @ApiNotFoundResponse({ description: 'Unknown report, or another user’s' })
  one(@CurrentUser() user: AuthUser, @Param('reportId', reportId) id: number, @Query() query: ReportQuery) {
    return this.reports.one(user.id, id, query);
  }

  @Post('report/:reportId/accept')
  @HttpCode(200)
  @ApiBody({ type: AcceptChangesDto, required: false })
  @ApiOkResponse({
    type: AcceptChangesResponseDto,
    description: 'The changes covered, each with who accepted it when (a second accept keeps the first)',
  })
  @ApiBadRequestResponse({ description: 'change_ids malformed, or naming what is no change of the report' })
  @ApiNotFoundResponse({ description: 'Unknown report, or another user’s' })
  accept(
    @CurrentUser() user: AuthUser,
    @Param('reportId', reportId) id: number,
    @Body() body: AcceptChangesDto,
  ): Promise<AcceptChangesResponseDto> {
    return this.reports.accept(user, id, body);
  }

  @Get('report/:reportId/export/csv')
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'The report as CSV: header, summary, one section per kind of change' })
  @ApiNotFoundResponse({ description: 'Unknown report, or another user’s' })
  csv(@CurrentUser() user: AuthUser, @Param('reportId', reportId) id: number) {
    return this.exports.csv(user.id, id);
  }

  @Get('scan/:scanId/export-all')
  @ApiProduces('application/zip')
  @ApiOkResponse({ description: 'A ZIP with one delta_report_<YYYYmmdd_HHMMSS>_<id>.csv per report' })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  exportAll(@CurrentUser() user: AuthUser, @Param('scanId', scanId) id: number) {
    return this.exports.zipOfScan(user.id, id);
  }

  @Delete('report/:reportId')
  @ApiOkResponse({ description: '{"message": "Delta report deleted successfully"}' })
  @ApiNotFoundResponse({ description: 'Unknown report, or another user’s' })
  remove(@CurrentUser() user: AuthUser, @Param('reportId', reportId) id: number) {
    return this.reports.remove(user.id, id);
  }
}
