import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiExtraModels,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { ProgressEventDto } from '../results/run-progress.view';
import { AuthUser, CurrentUser } from '../users/current-user';
import { BatchSplitEventDto, BatchStalledEventDto } from './batch-events.dto';
import { ScanEventsService } from './scan-events.service';
import { ScanStartedDto, ScanStoppingDto, StartPreviewDto, StartScanDto } from './scans.dto';
import { ScansService } from './scans.service';

export const scanIdPipe = new ParseIdPipe('scan_id');

@ApiTags('scans')
@Controller('api/scans')
export class ScansController {
  constructor(
    private readonly scans: ScansService,
    private readonly scanEvents: ScanEventsService,
  ) {}

  @Post('start')
  @HttpCode(200)
  @ApiOkResponse({ type: ScanStartedDto, description: 'Answered at once; batches run in the background' })
  @ApiBadRequestResponse({
    description:
      'A refused option or option combination, an invalid target, or a target outside the scan scope; ' +
      'only `targets` is required',
  })
  @ApiNotFoundResponse({ description: 'Unknown project_id' })
  @ApiConflictResponse({
    description: 'No approved, online scanner client covers any target (`{"error", "unassigned_targets"}`)',
  })
  start(@CurrentUser() user: AuthUser, @Body() body: StartScanDto): Promise<ScanStartedDto> {
    return this.scans.start(user.id, body);
  }

  @Post('start/preview')
  @HttpCode(200)
  @ApiOkResponse({
    type: StartPreviewDto,
    description:
      'A dry run of POST /api/scans/start with the same body: addresses, batches, delegation per client, ' +
      'unassigned and out-of-scope targets, and the refusal a start would get; nothing is stored',
  })
  @ApiBadRequestResponse({ description: 'A refused option or option combination, or an invalid target' })
  @ApiNotFoundResponse({ description: 'Unknown project_id' })
  preview(@CurrentUser() user: AuthUser, @Body() body: StartScanDto): Promise<StartPreviewDto> {
    return this.scans.preview(user.id, body);
  }

  @Post(':scanId/stop')
  @HttpCode(200)
  @ApiOkResponse({ type: ScanStoppingDto })
  @ApiNotFoundResponse({ description: 'Unknown scan' })
  @ApiConflictResponse({ description: 'The scan is not running' })
  stop(@CurrentUser() user: AuthUser, @Param('scanId', scanIdPipe) scanId: number): Promise<ScanStoppingDto> {
    return this.scans.stop(user.id, scanId);
  }

  @Get(':scanId')
  @ApiOkResponse({ description: 'The scan with the status and progress of its latest run' })
  @ApiNotFoundResponse({ description: 'Unknown scan' })
  describe(@CurrentUser() user: AuthUser, @Param('scanId', scanIdPipe) scanId: number) {
    return this.scans.describe(user.id, scanId);
  }

  /**
   * The SSE mirror of the WebSocket: the same events, each with `id: <seq>` so Last-Event-ID resumes. An
   * EventSource opened on a `?since=` URL reconnects to that same URL with the id of the last event it got in
   * `Last-Event-ID`, so the header wins over the query parameter: nothing is delivered twice.
   */
  @Get(':scanId/events')
  @ApiProduces('text/event-stream')
  // Events of ours besides seed 000's, as schemas (docs/api.md "Stalls and stragglers").
  @ApiExtraModels(BatchStalledEventDto, BatchSplitEventDto)
  @ApiOkResponse({
    description:
      'Server-sent events: `event: <name>`, `id: <seq>`, `data: <event JSON>`; `: keep-alive` when quiet. ' +
      'The events are the WebSocket’s (docs/api.md "Events"); `progress`: ProgressEventDto. A ' +
      'subscriber with more than SUBSCRIBER_MAX_BUFFERED_KIB unread gets a last `event: dropped` (no id; data ' +
      '`{"event":"dropped","code":4408,"reason":"Client too slow","seq":<last seq written>}`) and the stream ends',
  })
  @ApiExtraModels(ProgressEventDto)
  @ApiNotFoundResponse({ description: 'Unknown scan' })
  @ApiBadRequestResponse({
    description:
      '`{"error": "Last-Event-ID must be a non-negative integer"}` (the header, when sent, wins over `since`), ' +
      'else `{"error": "since must be a non-negative integer"}`; past 15 digits, `must not be greater than ' +
      '999999999999999`',
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'Resume after this seq; wins over `since`',
  })
  @ApiQuery({ name: 'since', required: false, description: 'Resume after this seq' })
  async events(
    @CurrentUser() user: AuthUser,
    @Param('scanId', scanIdPipe) scanId: number,
    @Req() request: Request,
    @Res() response: Response,
    @Query('since') since?: string,
  ): Promise<void> {
    await this.scans.findOwned(user.id, scanId);
    // Read here rather than with @Headers(), which would document a second, required header parameter.
    const lastEventId = request.get('last-event-id');
    const afterSeq = lastEventId ? parseSince(lastEventId, 'Last-Event-ID') : parseSince(since);
    await this.scanEvents.serve(scanId, afterSeq, response, {
      sessionId: request.authMethod === 'session' ? request.sessionId : undefined,
      tokenDigest: request.authMethod === 'token' ? request.tokenDigest : undefined,
    });
  }
}

/** The largest resume position taken: 15 digits, well inside Number.MAX_SAFE_INTEGER. */
const MAX_SINCE = 999_999_999_999_999;

/**
 * What is wrong with a resume position (an event's seq) as given, or undefined when it is 1 to 15 decimal
 * digits: `<name> must be a non-negative integer`, or for a longer run of digits `<name> must not be greater than
 * 999999999999999`; `name` is what carried it (`since`, or the `Last-Event-ID` header). The WebSocket's 4400
 * reason and the SSE route's 400 say the same.
 */
export function sinceProblem(value: string, name: 'since' | 'Last-Event-ID' = 'since'): string | undefined {
  if (/^\d{1,15}$/.test(value)) return undefined;
  if (/^\d+$/.test(value)) return `${name} must not be greater than ${MAX_SINCE}`;
  return `${name} must be a non-negative integer`;
}

/** A resume position: 0 when absent or empty, else as sinceProblem allows; its problem is a 400 `{error}`. */
export function parseSince(
  value: string | undefined | null,
  name: 'since' | 'Last-Event-ID' = 'since',
): number {
  if (value === undefined || value === null || value === '') return 0;
  const problem = sinceProblem(value, name);
  if (problem) throw new BadRequestException({ error: problem });
  return Number(value);
}
