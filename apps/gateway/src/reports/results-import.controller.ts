import { Controller, Inject, Param, Post, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiPayloadTooLargeResponse,
  ApiTags,
  ApiUnsupportedMediaTypeResponse,
} from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '@nso/config';
import type { Request } from 'express';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { AuthUser, CurrentUser } from '../users/current-user';
import { ResultsImportService } from './results-import.service';
import { XML_TYPES, xmlBodyPieces } from './xml-body.reader';

@ApiTags('results')
@Controller('api/scans')
export class ResultsImportController {
  constructor(
    private readonly imports: ResultsImportService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post(':scanId/results/import')
  @ApiConsumes(...XML_TYPES)
  @ApiCreatedResponse({
    description: 'The file stored as a completed run (trigger "import"); its diff is queued',
  })
  @ApiBadRequestResponse({
    description:
      'Malformed or truncated XML (also times that are no Unix time, an address that is no IP), a refused DOCTYPE, hosts outside the scope, or values the database cannot hold (details names each)',
  })
  @ApiPayloadTooLargeResponse({
    description:
      'Larger than IMPORT_MAX_BYTES (512 MiB by default; after decompression): {"error", "limit"}, limit in bytes',
  })
  @ApiNotFoundResponse({ description: 'Unknown scan, or another user’s' })
  @ApiUnsupportedMediaTypeResponse({ description: 'Not sent as application/xml or text/xml' })
  @ApiBody({
    description: 'An nmap XML output file (`nmap -oX`), as is',
    required: true,
    schema: { type: 'string', format: 'binary' },
  })
  async import(
    @CurrentUser() user: AuthUser,
    @Param('scanId', new ParseIdPipe('scan_id')) scanId: number,
    @Req() req: Request,
  ) {
    // The body is read as it arrives, by the parser: never one string (xml-body.reader.ts).
    return this.imports.import(user.id, scanId, xmlBodyPieces(req, this.config.importMaxBytes));
  }
}
