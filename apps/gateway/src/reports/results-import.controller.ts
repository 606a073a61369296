import {
  Controller,
  HttpException,
  Param,
  Post,
  Req,
  Res,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
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
import { text, type Request, type Response } from 'express';
import { bodyErrorAnswer } from '../common/json-body';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { AuthUser, CurrentUser } from '../users/current-user';
import { MAX_IMPORT_BYTES } from './nmap-import';
import { ResultsImportService } from './results-import.service';

const XML_TYPES = ['application/xml', 'text/xml'];
const xmlBody = text({ type: XML_TYPES, limit: MAX_IMPORT_BYTES, defaultCharset: 'utf-8' });

/** Reads the request's XML body (after authentication and the rate limiter, like every body). */
function readXml(req: Request, res: Response): Promise<string> {
  if (!req.is(XML_TYPES)) {
    throw new UnsupportedMediaTypeException({ error: 'Send the nmap XML as application/xml or text/xml' });
  }
  return new Promise((resolve, reject) =>
    xmlBody(req, res, (error?: unknown) => {
      if (!error) return resolve(typeof req.body === 'string' ? req.body : '');
      const answer = bodyErrorAnswer(error) ?? [400, { error: 'Unreadable request body' }];
      reject(new HttpException(answer[1], answer[0]));
    }),
  );
}

@ApiTags('results')
@Controller('api/scans')
export class ResultsImportController {
  constructor(private readonly imports: ResultsImportService) {}

  @Post(':scanId/results/import')
  @ApiConsumes(...XML_TYPES)
  @ApiCreatedResponse({
    description: 'The file stored as a completed run (trigger "import"); its diff is queued',
  })
  @ApiBadRequestResponse({
    description:
      'Malformed or truncated XML (also times that are no Unix time, an address that is no IP), a refused DOCTYPE, hosts outside the scope, or values the database cannot hold (details names each)',
  })
  @ApiPayloadTooLargeResponse({ description: 'Larger than 50 MiB' })
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
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.imports.import(user.id, scanId, await readXml(req, res));
  }
}
