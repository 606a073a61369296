import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/auth.decorators';
import { HealthReport, HealthService } from './health.service';

@ApiTags('system')
@Public()
@Controller('api/health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get()
  @ApiOkResponse({
    description:
      'Redis and the database answer. `ready` (and `checks.approved_client_online`): an approved scanner client ' +
      'is online, so a scan can run now (npm start waits for it before it says the API is ready)',
  })
  @ApiServiceUnavailableResponse({ description: 'Redis or the database does not answer' })
  async check(@Res({ passthrough: true }) res: Response): Promise<HealthReport> {
    const report = await this.health.report();
    res.status(report.status === 'healthy' ? 200 : 503);
    return report;
  }
}
