import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthUser, CurrentUser } from '../users/current-user';
import { StatsAnswerDto, StatsQuery } from './stats.dto';
import { StatsService } from './stats.service';

const DEFAULT_HOURS = 24;
const HOUR_MS = 3_600_000;

@ApiTags('system')
@Controller('api/stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  @Get()
  @ApiOperation({
    summary: 'Counts of clients, tasks (batches), agent tasks and scans (runs) over the last `hours`',
  })
  @ApiOkResponse({ type: StatsAnswerDto })
  @ApiBadRequestResponse({ description: '`hours` is not an integer from 1 to 8760' })
  async get(@CurrentUser() user: AuthUser, @Query() query: StatsQuery): Promise<StatsAnswerDto> {
    const hours = query.hours ?? DEFAULT_HOURS;
    const since = new Date(Date.now() - hours * HOUR_MS);
    return {
      status: 'success',
      period_hours: hours,
      since: since.toISOString(),
      stats: await this.stats.stats(user, since),
    };
  }
}
