import { Module } from '@nestjs/common';
import { NotificationHub } from '@nso/events';
import { TokensModule } from '../tokens/tokens.module';
import { CredentialWatch } from './credential-watch';
import { StreamController } from './stream.controller';
import { StreamService } from './stream.service';

/**
 * `GET /api/stream` and `POST /api/broadcast` (docs/notifications.md), and CredentialWatch, with which every
 * long-lived connection (this stream, a scan's WebSocket and SSE) ends with its session or token.
 */
@Module({
  imports: [TokensModule],
  controllers: [StreamController],
  providers: [NotificationHub, CredentialWatch, StreamService],
  exports: [CredentialWatch],
})
export class StreamModule {}
