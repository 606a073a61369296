import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ChangesState } from '../auth/auth.decorators';
import { AuthUser, CurrentUser } from '../users/current-user';
import { CreateScanDto, ListScansQuery, UpdateScanDto } from './scan-definitions.dto';
import { ScanDefinitionsService } from './scan-definitions.service';
import { scanIdPipe } from './scans.controller';

/** Seed 003 "Scan Management": scan definitions, run now or on a schedule. */
@ApiTags('scans')
@Controller('api/scans')
export class ScanDefinitionsController {
  constructor(private readonly definitions: ScanDefinitionsService) {}

  @Get()
  @ApiOkResponse({ description: 'Your scans, newest first, with result_count and success_rate; paginated' })
  @ApiBadRequestResponse({ description: 'A malformed filter or paging value' })
  list(@CurrentUser() user: AuthUser, @Query() query: ListScansQuery) {
    return this.definitions.list(user.id, query);
  }

  @Post()
  @ApiCreatedResponse({
    description: '{"status": "success", "message": "Scan created successfully", "scan": {...}}',
  })
  @ApiBadRequestResponse({ description: 'Missing or malformed field, option, target or schedule' })
  create(@CurrentUser() user: AuthUser, @Body() body: CreateScanDto) {
    return this.definitions.create(user.id, body);
  }

  @Put(':scanId')
  @ApiOkResponse({
    description:
      'Partial: fields not sent keep their values; an interval edit keeps the due time (fires nothing)',
  })
  @ApiServiceUnavailableResponse({
    description: "Another change of this scan's schedule held it for 20 s; try again",
  })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  update(
    @CurrentUser() user: AuthUser,
    @Param('scanId', scanIdPipe) scanId: number,
    @Body() body: UpdateScanDto,
  ) {
    return this.definitions.update(user.id, scanId, body);
  }

  @Delete(':scanId')
  @ApiOkResponse({ description: 'Deactivated: unscheduled, a running run stopped, history kept' })
  @ApiServiceUnavailableResponse({
    description: "Another change of this scan's schedule held it for 20 s; try again",
  })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  remove(@CurrentUser() user: AuthUser, @Param('scanId', scanIdPipe) scanId: number) {
    return this.definitions.deactivate(user.id, scanId);
  }

  @Get(':scanId/execute')
  @ChangesState()
  @ApiOkResponse({ description: 'A run started now: result_id, clients_triggered, unassigned_targets' })
  @ApiConflictResponse({ description: 'The scan is inactive or already running' })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  execute(@CurrentUser() user: AuthUser, @Param('scanId', scanIdPipe) scanId: number) {
    return this.definitions.execute(user.id, scanId);
  }

  @Post(':scanId/toggle')
  @ApiServiceUnavailableResponse({
    description: "Another change of this scan's schedule held it for 20 s; try again",
  })
  @HttpCode(200)
  @ApiOkResponse({ description: '"Scan activated" or "Scan deactivated", with the scan' })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  toggle(@CurrentUser() user: AuthUser, @Param('scanId', scanIdPipe) scanId: number) {
    return this.definitions.toggle(user.id, scanId);
  }
}
