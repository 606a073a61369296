import { Module } from '@nestjs/common';
import { NotificationHub } from './notification-hub';
import { StreamController } from './stream.controller';
import { StreamService } from './stream.service';

/** `GET /api/stream` and `POST /api/broadcast` (docs/notifications.md). */
@Module({ controllers: [StreamController], providers: [NotificationHub, StreamService] })
export class StreamModule {}
