import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
  IsInt,
  IsOptional,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';
import { QueryBool, QueryInt } from '../common/pagination';

/**
 * Seed 003 "Get Scan Reports" / "Get User Reports": page, per_page (default 10, at most 100), only_changes; and
 * its "Pagination" aliases, limit (of per_page) and offset (instead of page), as every list takes them.
 */
export class ReportsQuery {
  @ApiPropertyOptional({ minimum: 1, default: 1, description: 'Page number, 1-based' })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 10, description: 'Items per page' })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(100)
  per_page?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 100,
    description: 'Alias for per_page (seed 003 "Pagination")',
  })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'Skip this many reports (instead of page)',
  })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  offset?: number;

  @ApiPropertyOptional({ description: 'Only reports with changes' })
  @IsOptional()
  @QueryBool()
  @IsBoolean()
  only_changes?: boolean;
}

/** Seed 003 "Get Report Details". */
export class ReportQuery {
  @ApiPropertyOptional({
    default: false,
    description: 'Add delta_data (scanner, baseline, current, delta, summary)',
  })
  @IsOptional()
  @QueryBool()
  @IsBoolean()
  include_data?: boolean;
}

/** Seed 003 "Get Scan Summary". */
export class SummaryQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 3650, default: 30, description: 'The last N days' })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(3650)
  days?: number;
}

/** At most this many change_ids in one accept (one bound parameter each in the UPDATE). */
export const MAX_ACCEPT_IDS = 10_000;

/** `POST /api/report/{report_id}/accept`: no body or `{}` accepts every change; `change_ids` names some. */
export class AcceptChangesDto {
  @ApiPropertyOptional({
    type: [Number],
    example: [1, 3],
    minItems: 1,
    maxItems: MAX_ACCEPT_IDS,
    description:
      'The change_id of each change to accept (its lists in GET /api/report/{id}?include_data=true); ' +
      'absent: every change of the report',
  })
  // Absent means every change; null is refused rather than read as "all" (a client's empty variable must not
  // accept a whole report).
  @ValidateIf((_dto, value) => value !== undefined)
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(MAX_ACCEPT_IDS)
  @IsInt({ each: true })
  @Min(1, { each: true })
  change_ids?: number[];
}

/** Who accepted a change and when: `by` the user id, `by_username` null when that user is gone. */
export class ChangeAcceptanceDto {
  @ApiProperty({ nullable: true, type: Number })
  by!: number | null;

  @ApiProperty({ nullable: true, type: String })
  by_username!: string | null;

  @ApiProperty({ example: '2026-12-07T06:00:00.000Z' })
  at!: string;
}

/** One change an accept covered and its acceptance (the first: a second accept keeps it). */
export class AcceptedChangeDto {
  @ApiProperty()
  change_id!: number;

  @ApiProperty({ type: ChangeAcceptanceDto })
  accepted!: ChangeAcceptanceDto;
}

/** The answer of `POST /api/report/{report_id}/accept`. */
export class AcceptChangesResponseDto {
  @ApiProperty({ example: '2 change(s) accepted, 1 already accepted' })
  message!: string;

  @ApiProperty()
  report_id!: number;

  @ApiProperty({ description: 'Changes this call accepted' })
  accepted!: number;

  @ApiProperty({ description: 'Changes it covered that were accepted before (they keep who and when)' })
  already_accepted!: number;

  @ApiProperty({ type: [AcceptedChangeDto], description: 'Every change it covered, by change_id' })
  changes!: AcceptedChangeDto[];
}
