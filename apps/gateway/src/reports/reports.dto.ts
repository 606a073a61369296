import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, Max, Min } from 'class-validator';
import { QueryBool, QueryInt } from '../common/pagination';

/** Seed 003 "Get Scan Reports" / "Get User Reports": page, per_page (default 10, at most 100), only_changes. */
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
