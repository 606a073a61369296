import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  WEBHOOK_EXPOSURES,
  WEBHOOK_KINDS,
  WEBHOOK_PROTOCOLS,
  type WebhookExposure,
  type WebhookKind,
} from '@nso/persistence';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { PageQuery } from '../common/pagination';
import { PlainText, Trim } from '../common/text-fields';

/**
 * The fields of a rule besides its url, every one optional. The url is declared apart by the create and update
 * DTOs: an @IsOptional inherited from a parent would make it optional on create too (class-validator merges a
 * parent's conditions into the child), and a rule without a url must be a 400 `missing_fields`.
 */
class WebhookFieldsDto {
  @ApiPropertyOptional({
    description:
      'HMAC-SHA256 key of X-NetScan-Signature. Write-only (answers say has_secret); null removes it',
    nullable: true,
    type: String,
    writeOnly: true,
  })
  @IsOptional()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(256)
  secret?: string | null;

  @ApiPropertyOptional({
    description: 'false pauses the rule; true re-enables a disabled one (failures reset)',
  })
  @IsOptional()
  @IsBoolean()
  is_active?: boolean;

  @ApiPropertyOptional({ enum: WEBHOOK_KINDS, isArray: true, description: 'Kinds of change; empty = all' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(WEBHOOK_KINDS.length)
  @IsString({ each: true })
  @PlainText({}, { each: true })
  @IsIn([...WEBHOOK_KINDS], { each: true })
  kinds?: WebhookKind[];

  @ApiPropertyOptional({ type: [Number], example: [22, 443], description: 'Port numbers; empty = any' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsInt({ each: true })
  @Min(0, { each: true })
  @Max(65535, { each: true })
  ports?: number[];

  @ApiPropertyOptional({ enum: WEBHOOK_PROTOCOLS, isArray: true, description: 'Empty = any' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(WEBHOOK_PROTOCOLS.length)
  @IsString({ each: true })
  @PlainText({}, { each: true })
  @IsIn([...WEBHOOK_PROTOCOLS], { each: true })
  protocols?: string[];

  @ApiPropertyOptional({
    type: [String],
    example: ['127.0.0.0/24'],
    description: 'Hosts inside any; empty = any',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @PlainText({}, { each: true })
  @MaxLength(64, { each: true })
  host_cidrs?: string[];

  @ApiPropertyOptional({ type: [Number], description: 'Your scans; empty = all your scans' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsInt({ each: true })
  @Min(1, { each: true })
  scan_ids?: number[];

  @ApiPropertyOptional({
    default: false,
    description:
      'Also send changes the confirmation rescan did not confirm (docs/delta.md "Verified changes"); ' +
      'changes of flapping ports are never sent',
  })
  @IsOptional()
  @IsBoolean()
  include_unconfirmed?: boolean;

  @ApiPropertyOptional({
    enum: WEBHOOK_EXPOSURES,
    isArray: true,
    example: ['unexpected'],
    description: "Only changes of these exposures against the scan's expected_ports; empty = any",
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(WEBHOOK_EXPOSURES.length)
  @IsString({ each: true })
  @PlainText({}, { each: true })
  @IsIn([...WEBHOOK_EXPOSURES], { each: true })
  exposures?: WebhookExposure[];
}

/** `PUT /api/webhooks/{id}`: partial, every field optional. */
export class UpdateWebhookDto extends WebhookFieldsDto {
  @ApiPropertyOptional({
    example: 'http://127.0.0.1:9000/hooks/netscan',
    description:
      'http or https; its host must be inside WEBHOOK_ALLOW (an address, or a name resolving only there)',
  })
  @IsOptional()
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(2048)
  @Matches(/^https?:\/\//i, { message: 'url must be an http:// or https:// URL' })
  url?: string;
}

/** `POST /api/webhooks`: `url` required (absent: 400 `missing_fields: ["url"]`). */
export class CreateWebhookDto extends WebhookFieldsDto {
  @ApiProperty({
    example: 'http://127.0.0.1:9000/hooks/netscan',
    description:
      'http or https; its host must be inside WEBHOOK_ALLOW (an address, or a name resolving only there)',
  })
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(2048)
  @Matches(/^https?:\/\//i, { message: 'url must be an http:// or https:// URL' })
  url!: string;
}

/** A rule as answers show it: the secret is never returned. */
export class WebhookDto {
  @ApiProperty({ example: 1 }) id!: number;
  @ApiProperty({ example: 'http://127.0.0.1:9000/hooks/netscan' }) url!: string;
  @ApiProperty({ description: 'Whether deliveries are signed (the secret itself is write-only)' })
  has_secret!: boolean;
  @ApiProperty() is_active!: boolean;
  @ApiProperty({ enum: WEBHOOK_KINDS, isArray: true }) kinds!: string[];
  @ApiProperty({ type: [Number] }) ports!: number[];
  @ApiProperty({ enum: WEBHOOK_PROTOCOLS, isArray: true }) protocols!: string[];
  @ApiProperty({ type: [String] }) host_cidrs!: string[];
  @ApiProperty({ type: [Number] }) scan_ids!: number[];
  @ApiProperty() include_unconfirmed!: boolean;
  @ApiProperty({ enum: WEBHOOK_EXPOSURES, isArray: true }) exposures!: string[];
  @ApiProperty({ description: 'Failed delivery tries since the last success' }) consecutive_failures!: number;
  @ApiProperty({ nullable: true, type: String, description: 'Why the rule was disabled automatically' })
  disabled_reason!: string | null;
  @ApiProperty() created_at!: string;
  @ApiProperty() updated_at!: string;
}

export class WebhookDeliveriesQuery extends PageQuery {}

export class WebhookDeliveryDto {
  @ApiProperty() id!: number;
  @ApiProperty({ description: 'X-NetScan-Delivery: the same on every try of one delivery' })
  delivery_id!: string;
  @ApiProperty() report_id!: number;
  @ApiProperty({ description: '1-based try number' }) attempt!: number;
  @ApiProperty({ nullable: true, type: Number }) status_code!: number | null;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({ description: 'Milliseconds' }) duration_ms!: number;
  @ApiProperty() delivered_at!: string;
}
