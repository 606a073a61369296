import { ApiProperty } from '@nestjs/swagger';
import { NOTIFICATION_TYPES, NotificationType } from '@nso/contracts';
import { IsIn, IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { PlainText, Trim } from '../common/text-fields';

/** Longest broadcast message, in UTF-16 code units: a notification, not a document. */
export const BROADCAST_MESSAGE_MAX = 1000;

/** `POST /api/broadcast` (seed 003 "Broadcast Message"). */
export class BroadcastDto {
  @ApiProperty({ example: 'System update complete', maxLength: BROADCAST_MESSAGE_MAX })
  @Trim()
  @IsString()
  @IsNotEmpty()
  @MaxLength(BROADCAST_MESSAGE_MAX)
  @PlainText()
  message!: string;

  @ApiProperty({ enum: NOTIFICATION_TYPES, example: 'success' })
  @IsString()
  @IsIn(NOTIFICATION_TYPES)
  @PlainText()
  type!: NotificationType;
}

export class BroadcastAnswerDto {
  @ApiProperty({ example: 'Message broadcasted' })
  status!: 'Message broadcasted';
}
