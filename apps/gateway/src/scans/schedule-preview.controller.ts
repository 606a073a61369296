import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { SchedulePreviewDto, SchedulePreviewQuery } from './scan-definitions.dto';
import { ScanDefinitionsService } from './scan-definitions.service';

/** The next fires of a schedule before it is saved (the dashboard's "Next runs" on the scan form). */
@ApiTags('scans')
@Controller('api/schedule')
export class SchedulePreviewController {
  constructor(private readonly definitions: ScanDefinitionsService) {}

  @Get('preview')
  @ApiOkResponse({ type: SchedulePreviewDto })
  @ApiBadRequestResponse({
    description:
      'Neither or both of cron and interval_minutes, a malformed cron, an unknown time zone, count out of range',
  })
  preview(@Query() query: SchedulePreviewQuery): SchedulePreviewDto {
    return this.definitions.previewSchedule(query);
  }
}
