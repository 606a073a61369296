import { Controller, Get, Param, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { RunProgressWithBatchesDto } from './run-progress.view';
import { PageQuery } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { AuthUser, CurrentUser } from '../users/current-user';
import { RunHostsQuery } from './results.dto';
import { ResultsService } from './results.service';

@ApiTags('results')
@Controller('api')
export class ResultsController {
  constructor(private readonly results: ResultsService) {}

  @Get('scans/:scanId/results')
  @ApiOkResponse({ description: "The scan's runs, newest first, paginated" })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  runsOfScan(
    @CurrentUser() user: AuthUser,
    @Param('scanId', new ParseIdPipe('scan_id')) scanId: number,
    @Query() query: PageQuery,
  ) {
    return this.results.runsOfScan(user.id, scanId, query);
  }

  @Get('results/:resultId')
  @ApiOkResponse({
    description:
      "One run (`result`), seed 003's `summary` (total_targets, completed_targets, failed_targets, total_open_ports, " +
      "contributing_clients, hosts_up: the same as the answer to an agent's results), its `progress` (percent, " +
      'batches, hosts, ETA and the running batches’ nmap progress: RunProgressWithBatchesDto; live from Redis while ' +
      'it runs) and a page of its hosts',
  })
  @ApiExtraModels(RunProgressWithBatchesDto)
  @ApiNotFoundResponse({ description: 'Unknown run, or another user’s' })
  run(
    @CurrentUser() user: AuthUser,
    @Param('resultId', new ParseIdPipe('result_id')) resultId: number,
    @Query() query: RunHostsQuery,
  ) {
    return this.results.run(user.id, resultId, query);
  }

  @Get('results/:resultId/batches')
  @ApiOkResponse({
    description:
      "The run's batches in order (`pending` until taken), each with its client, addresses, status, attempts, " +
      'times, exit code, stderr, hosts up and open ports; paginated (100 a page)',
  })
  @ApiNotFoundResponse({ description: 'Unknown run, or another user’s' })
  batches(
    @CurrentUser() user: AuthUser,
    @Param('resultId', new ParseIdPipe('result_id')) resultId: number,
    @Query() query: PageQuery,
  ) {
    return this.results.batches(user.id, resultId, query);
  }

  @Get('hosts/:address/history')
  @ApiOkResponse({ description: 'Every run of yours that saw this address, newest first' })
  @ApiBadRequestResponse({ description: 'Not an IP address' })
  hostHistory(@CurrentUser() user: AuthUser, @Param('address') address: string, @Query() query: PageQuery) {
    return this.results.hostHistory(user.id, address, query);
  }
}
