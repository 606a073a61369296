import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { PageQuery } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { NoFields } from '../common/validation';
import { AuthUser, CurrentUser } from '../users/current-user';
import {
  HostAssetDto,
  ParsePortPipe,
  ParseProtocolPipe,
  PortHistoryDto,
  type PortProtocol,
  ScanHostsDto,
  ScanHostsQuery,
} from './assets.dto';
import { AssetsService } from './assets.service';

/** Assets over time (issue 21): hosts and ports across the runs of the user's scans. Read only. */
@ApiTags('assets')
@Controller('api')
export class AssetsController {
  constructor(private readonly assets: AssetsService) {}

  @Get('hosts/:address')
  @ApiOkResponse({
    type: HostAssetDto,
    description:
      'The address across your runs: first and last seen up, last looked at, every port seen open (open_now), ' +
      'the scans and runs that listed it',
  })
  @ApiBadRequestResponse({ description: 'address is not an IP address' })
  @ApiNotFoundResponse({ description: 'No run of your scans listed this address' })
  host(@CurrentUser() user: AuthUser, @Param('address') address: string, @Query() _query: NoFields) {
    return this.assets.host(user.id, address);
  }

  @Get('scans/:scanId/hosts')
  @ApiOkResponse({
    type: ScanHostsDto,
    description:
      'The scan’s inventory over all its runs, one entry per address, in address order, paginated (100 a page)',
  })
  @ApiBadRequestResponse({ description: 'A paging or filter value malformed (named in the error)' })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  scanHosts(
    @CurrentUser() user: AuthUser,
    @Param('scanId', new ParseIdPipe('scan_id')) scanId: number,
    @Query() query: ScanHostsQuery,
  ) {
    return this.assets.scanHosts(user.id, scanId, query);
  }

  @Get('hosts/:address/ports/:protocol/:port/history')
  @ApiOkResponse({
    type: PortHistoryDto,
    description:
      'The port’s state in every run of yours that looked at it, newest first, paginated (50 a page)',
  })
  @ApiBadRequestResponse({
    description: 'address, protocol (tcp, udp, sctp, ip) or port (1-65535) malformed',
  })
  @ApiNotFoundResponse({ description: 'No run of your scans listed this address' })
  portHistory(
    @CurrentUser() user: AuthUser,
    @Param('address') address: string,
    @Param('protocol', ParseProtocolPipe) protocol: PortProtocol,
    @Param('port', ParsePortPipe) port: number,
    @Query() query: PageQuery,
  ) {
    return this.assets.portHistory(user.id, address, protocol, port, query);
  }
}
