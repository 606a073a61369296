import {
  Body,
  Controller,
  HttpCode,
  MessageEvent,
  Post,
  Req,
  Sse,
  UnauthorizedException,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiForbiddenResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { Notifier } from '@nso/events';
import type { Request } from 'express';
import { Observable } from 'rxjs';
import { Public, Roles } from '../auth/auth.decorators';
import { BroadcastAnswerDto, BroadcastDto } from './stream.dto';
import { MALFORMED_STREAM_POSITION, parseStreamPosition } from './stream-position';
import { StreamService } from './stream.service';

/**
 * Characters of events that may wait for a stream client that does not read them before its connection is
 * dropped (it reconnects with Last-Event-ID and resumes from the log). Notifications are small: 64 KiB is hundreds.
 */
export const STREAM_MAX_PENDING = 64 * 1024;

@ApiTags('notifications')
@Controller('api')
export class StreamController {
  constructor(
    private readonly streams: StreamService,
    private readonly notifier: Notifier,
  ) {}

  @Public()
  @Sse('stream', { maxPendingDataLength: STREAM_MAX_PENDING })
  @ApiOperation({
    summary: 'Notification stream (SSE)',
    description:
      "Broadcasts for everyone; with a session or token also the caller's own notifications (runs ended, and for " +
      'admins clients awaiting approval) as `data: {"message", "type"}`. A session stream ends with ' +
      '`data: {"type": "redirect", "url": "/auth/login", "endpoint": "auth.login"}` when the session ends, a ' +
      'token stream with the same event when its token is revoked.',
  })
  @ApiUnauthorizedResponse({
    description: 'A bearer token was sent and is invalid or revoked: `{"error": "Invalid or revoked token"}`',
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'Server-sent events: `id: b<n>-u<n>-a<n>`, `data: {"message", "type"}`' })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id (`b12-u3`)' })
  @ApiBadRequestResponse({
    description:
      'A Last-Event-ID that is no id of this stream: `{"error": "' + MALFORMED_STREAM_POSITION + '"}`',
  })
  stream(@Req() req: Request): Observable<MessageEvent> {
    // Read here rather than with @Headers(), which would document a second, required header parameter.
    const lastEventId = req.get('last-event-id');
    // A refused token is a 401, not an anonymous stream: a client whose token was revoked mid-stream must not
    // reconnect as nobody and think it still follows its own notifications. (EventSource sends no Authorization
    // header; a browser with an expired session cookie was sent to the login page and streams anonymously.)
    if (req.headers.authorization !== undefined && !req.user) {
      throw new UnauthorizedException({ error: req.authError ?? 'Authentication required' });
    }
    return this.streams.stream(
      {
        user: req.user,
        sessionId: req.authMethod === 'session' ? req.sessionId : undefined,
        tokenDigest: req.authMethod === 'token' ? req.tokenDigest : undefined,
      },
      parseStreamPosition(lastEventId),
    );
  }

  @Post('broadcast')
  @Roles('admin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Send a notification to every /api/stream subscriber (admins only)' })
  @ApiBody({ type: BroadcastDto })
  @ApiOkResponse({ type: BroadcastAnswerDto })
  @ApiForbiddenResponse({ description: '`{"error": "Unauthorized"}` for a caller who is not an admin' })
  async broadcast(@Body() body: BroadcastDto): Promise<BroadcastAnswerDto> {
    await this.notifier.broadcast({ message: body.message, type: body.type });
    return { status: 'Message broadcasted' };
  }
}
