import { Module } from '@nestjs/common';
import { NotificationHub } from '@nso/events';
import { TokensModule } from '../tokens/tokens.module';
import { StreamController } from './stream.controller';
import { StreamService } from './stream.service';

/** `GET /api/stream` and `POST /api/broadcast` (docs/notifications.md). */
@Module({
  imports: [TokensModule],
  controllers: [StreamController],
  providers: [NotificationHub, StreamService],
})
export class StreamModule {}
