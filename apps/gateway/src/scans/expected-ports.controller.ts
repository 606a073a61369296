import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { NoFields } from '../common/validation';
import { AuthUser, CurrentUser } from '../users/current-user';
import { ExpectedPortsService } from './expected-ports.service';
import { scanIdPipe } from './scans.controller';

/** Issue 21, docs/delta.md "Expected ports": a scan's expected ports against its latest run. */
@ApiTags('scans')
@Controller('api/scans')
export class ExpectedPortsController {
  constructor(private readonly expected: ExpectedPortsService) {}

  @Post(':scanId/expected/accept-current')
  @HttpCode(200)
  @ApiOkResponse({
    description:
      '{message, scan_id, result_id, expected_ports}: the open ports of the latest completed run (not a ' +
      'verify rescan) stored as the scan’s expected_ports, per host',
  })
  @ApiConflictResponse({ description: 'The scan has no completed run' })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  acceptCurrent(
    @CurrentUser() user: AuthUser,
    @Param('scanId', scanIdPipe) scanId: number,
    @Body() _body: NoFields,
  ) {
    return this.expected.acceptCurrent(user.id, scanId);
  }

  @Get(':scanId/exposure')
  @ApiOkResponse({
    description:
      '{scan_id, result_id, expected_ports, counts, expected, unexpected, missing}: the latest completed run ' +
      'judged against expected_ports (empty lists and a note when none are set)',
  })
  @ApiConflictResponse({ description: 'The scan has no completed run' })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  exposure(
    @CurrentUser() user: AuthUser,
    @Param('scanId', scanIdPipe) scanId: number,
    @Query() _query: NoFields,
  ) {
    return this.expected.exposure(user.id, scanId);
  }
}
