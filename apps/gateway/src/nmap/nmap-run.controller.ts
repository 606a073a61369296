import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiInternalServerErrorResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
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
  run(@Body() body: NmapRunDto, @Res({ passthrough: true }) res: Response): Promise<NmapRunResultDto> {
    // A client that hangs up should not leave nmap running.
    const clientGone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) clientGone.abort();
    });
    return this.nmap.run(body, clientGone.signal);
  }
}
