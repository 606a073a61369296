import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiInternalServerErrorResponse,
  ApiOkResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { AuthUser, CurrentUser } from '../users/current-user';
import { NmapRunDto, NmapRunResultDto } from './nmap-run.dto';
import { NmapRunService } from './nmap-run.service';

@ApiTags('nmap')
@Controller('api/nmap')
export class NmapRunController {
  constructor(private readonly nmap: NmapRunService) {}

  @Post('run')
  @HttpCode(200)
  @ApiOkResponse({ type: NmapRunResultDto })
  @ApiBadRequestResponse({
    description:
      'A refused option or a combination nmap refuses at start-up (`option`, `options`), an invalid target ' +
      '(`invalid_targets`) or a target outside the scan scope (`out_of_scope`)',
  })
  @ApiInternalServerErrorResponse({
    description:
      "nmap exited non-zero: `{error, exit_code, stderr, detail, stdout}`, where `detail` repeats nmap's stderr",
  })
  @ApiTooManyRequestsResponse({
    description:
      'The caller already has NMAP_RUN_MAX_PER_USER runs under way on this gateway: `{error}` (or the rate limit)',
  })
  run(
    @CurrentUser() user: AuthUser,
    @Body() body: NmapRunDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<NmapRunResultDto> {
    // A client that hangs up should not leave nmap running.
    const clientGone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) clientGone.abort();
    });
    return this.nmap.run(body, user.id, clientGone.signal);
  }
}
