// Seed 003 "Scan Management": a scan definition as the delta-reporter API spells it (`target`, `ports`,
// `scan_arguments` as strings), plus seed 000's run settings and a calendar beside interval_minutes.
import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { SCAN_RUN_STATES, type ScanRunState } from '@nso/persistence';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { PageQuery, QueryBool, QueryInt } from '../common/pagination';
import { PlainText, Trim } from '../common/text-fields';
import { RunSettingsDto } from './scans.dto';

/** An hour at most between a run and the rescan of its changes. */
export const MAX_VERIFY_DELAY_SECONDS = 3600;
/** Runs a port's flapping history is read over, at most. */
export const MAX_FLAP_WINDOW = 100;

/** 1 minute to 1 year, as interval_minutes. */
export const MAX_INTERVAL_MINUTES = 525_600;

export class CreateScanDto extends RunSettingsDto {
  @ApiProperty({ example: 'Lab listeners', description: 'Trimmed; must not be empty' })
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiPropertyOptional({ example: 'Loopback listeners of the lab', nullable: true, type: String })
  @IsOptional()
  @IsString()
  @PlainText({ allowLineBreaks: true })
  @MaxLength(2000)
  description?: string | null;

  @ApiProperty({
    example: '127.0.0.0/28, localhost',
    description: 'One or more targets separated by commas or spaces: addresses, ranges, CIDRs or host names',
  })
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(8192)
  target!: string;

  @ApiPropertyOptional({
    example: '22,80,443,8000-8100',
    nullable: true,
    type: String,
    description: "An nmap port spec (`-p`); nmap's default ports when omitted",
  })
  @IsOptional()
  @Trim()
  @IsString()
  @PlainText()
  @MaxLength(1024)
  ports?: string | null;

  @ApiPropertyOptional({
    example: '-T4 -sT -Pn',
    description: 'nmap options as one string, split like a shell would split words (no shell runs them)',
  })
  @IsOptional()
  @IsString()
  @PlainText()
  @MaxLength(2048)
  scan_arguments?: string;

  @ApiPropertyOptional({
    example: 1440,
    minimum: 1,
    maximum: MAX_INTERVAL_MINUTES,
    nullable: true,
    type: Number,
  })
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @IsInt()
  @Min(1)
  @Max(MAX_INTERVAL_MINUTES)
  interval_minutes?: number | null;

  @ApiPropertyOptional({
    example: '0 2 * * 1-5',
    nullable: true,
    type: String,
    description:
      'A calendar instead of interval_minutes: a 5-field cron expression (minute hour day month weekday)',
  })
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Trim()
  @IsString()
  @PlainText()
  @MaxLength(120)
  cron?: string | null;

  @ApiPropertyOptional({ example: 'Europe/Berlin', description: 'IANA time zone of `cron` (default UTC)' })
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Trim()
  @IsString()
  @PlainText()
  @MaxLength(64)
  timezone?: string | null;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  is_active?: boolean;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  is_scheduled?: boolean;

  @ApiPropertyOptional({
    default: true,
    description:
      "Confirm a report's changes by rescanning exactly the changed hosts and ports before announcing them " +
      '(docs/delta.md "Verified changes")',
  })
  @IsOptional()
  @IsBoolean()
  verify_changes?: boolean;

  @ApiPropertyOptional({
    default: 30,
    minimum: 0,
    maximum: MAX_VERIFY_DELAY_SECONDS,
    description: 'Seconds between the end of a run and the rescan of its changes',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_VERIFY_DELAY_SECONDS)
  verify_delay_seconds?: number;

  @ApiPropertyOptional({
    default: false,
    description: 'Announce changes the rescan did not confirm too (not flapping ones)',
  })
  @IsOptional()
  @IsBoolean()
  announce_unconfirmed?: boolean;

  @ApiPropertyOptional({
    default: 10,
    minimum: 2,
    maximum: MAX_FLAP_WINDOW,
    description: 'Runs of the scan a port\'s history is read over (docs/delta.md "Flapping ports")',
  })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(MAX_FLAP_WINDOW)
  flap_window?: number;

  @ApiPropertyOptional({
    default: 3,
    minimum: 1,
    maximum: MAX_FLAP_WINDOW,
    description:
      'Open/not-open changes within flap_window that make a port flapping; as many runs in one state make it stable',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_FLAP_WINDOW)
  flap_threshold?: number;

  @ApiPropertyOptional({
    example: { '*': ['tcp/22'], '127.0.9.5': ['tcp/80', 'tcp/443'] },
    nullable: true,
    type: Object,
    description:
      'Ports expected open: "*" (every host that is up) or an address → ["tcp/22", ...] (docs/delta.md ' +
      '"Expected ports"); null: none',
  })
  @IsOptional()
  expected_ports?: Record<string, string[]> | null;
}

/** PUT is partial: a field that is not sent keeps its value (the original reset omitted booleans to false). */
export class UpdateScanDto extends PartialType(CreateScanDto) {}

export class ListScansQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Only active (true) or inactive (false) scans' })
  @IsOptional()
  @QueryBool()
  @IsBoolean()
  is_active?: boolean;

  @ApiPropertyOptional({ description: 'Only scheduled (true) or unscheduled (false) scans' })
  @IsOptional()
  @QueryBool()
  @IsBoolean()
  is_scheduled?: boolean;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'Only the scans of this project (of yours)',
  })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  project_id?: number;

  @ApiPropertyOptional({
    enum: SCAN_RUN_STATES,
    description:
      'Only scans whose latest run is in this state: `running` (queued or running: what Stop would end), ' +
      '`completed`, `stopped`, `failed`; `idle`: never ran',
  })
  @IsOptional()
  @IsIn(SCAN_RUN_STATES, { message: `status must be one of: ${SCAN_RUN_STATES.join(', ')}` })
  status?: ScanRunState;
}

/** Fires a schedule preview lists at most. */
export const MAX_PREVIEW_COUNT = 50;

/** `GET /api/schedule/preview`: a schedule as a definition would hold it, and how many fires to list. */
export class SchedulePreviewQuery {
  @ApiPropertyOptional({
    example: '0 2 * * 1-5',
    description: 'A 5-field cron expression (or interval_minutes)',
  })
  @IsOptional()
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(120)
  cron?: string;

  @ApiPropertyOptional({ example: 'Europe/Berlin', description: 'IANA time zone of `cron` (default UTC)' })
  @IsOptional()
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(64)
  timezone?: string;

  @ApiPropertyOptional({ example: 1440, minimum: 1, maximum: MAX_INTERVAL_MINUTES })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(MAX_INTERVAL_MINUTES)
  interval_minutes?: number;

  @ApiPropertyOptional({ default: 5, minimum: 1, maximum: MAX_PREVIEW_COUNT })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(MAX_PREVIEW_COUNT)
  count?: number;
}

export class SchedulePreviewDto {
  @ApiProperty({ example: 'success' }) status!: 'success';
  @ApiProperty({ nullable: true, type: Number, example: null }) interval_minutes!: number | null;
  @ApiProperty({ nullable: true, type: String, example: '0 2 * * 1-5' }) cron!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'Europe/Berlin',
    description: 'null for an interval',
  })
  timezone!: string | null;
  @ApiProperty({
    type: [String],
    format: 'date-time',
    example: ['2026-12-07T01:00:00.000Z', '2026-12-08T01:00:00.000Z'],
    description: 'The next fires, UTC, earliest first; an interval schedule saved now fires at once',
  })
  next_runs!: string[];
}
