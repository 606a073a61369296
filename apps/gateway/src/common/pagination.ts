// Seed 003's "Pagination": `page`/`per_page` (with `limit` as an alias of per_page) or `offset`, and answers that
// carry `total`, `page`, `per_page`, `has_next`, `has_prev` (plus `limit`/`offset` as "List Scans" shows them).
import { BadRequestException } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/**
 * A query-string integer: canonical decimal digits, however many, become a number; anything else ("1.5",
 * "0x10", "1e2", "") stays a string, so the @IsInt rule refuses it with a 400 that names the parameter. A long
 * run of digits is an integer too (9007199254740991, or 10^30 rounded): the parameter's @Max refuses it, so
 * `?page=9007199254740991` is told "page must not be greater than 1000000" alone. Every QueryInt parameter
 * therefore has a @Max, at most Number.MAX_SAFE_INTEGER.
 */
export const QueryInt = () =>
  Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^(0|[1-9][0-9]*)$/.test(value) ? Number(value) : value,
  );

/** A query-string boolean: `true`/`false`/`1`/`0`; anything else stays a string for @IsBoolean to refuse. */
export const QueryBool = () =>
  Transform(({ value }: { value: unknown }) => {
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    return value;
  });

/** The paging parameters every list endpoint takes. */
export class PageQuery {
  @ApiPropertyOptional({
    minimum: 1,
    maximum: 1_000_000,
    description: 'Page number, 1-based (or use offset)',
  })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, description: 'Items per page' })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(500)
  per_page?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, description: 'Alias for per_page' })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'Skip this many items (instead of page)',
  })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  offset?: number;
}

/** Which rows one page holds: `limit` rows from `offset`, and the page number that is. */
export interface PageWindow {
  limit: number;
  offset: number;
  page: number;
}

/**
 * The window a query asks for. `per_page` wins over its alias `limit`; `page` and `offset` are two ways to say
 * where to start, so giving both is a 400. An `offset` that is not a multiple of `limit` starts a page of its own:
 * the rows before it make up the pages before (the first of them shorter), so `offset=7&limit=3` is page 4.
 */
export function pageWindow(query: PageQuery, defaultPerPage: number): PageWindow {
  if (query.page !== undefined && query.offset !== undefined) {
    throw new BadRequestException({ error: 'Give either page or offset, not both' });
  }
  const limit = query.per_page ?? query.limit ?? defaultPerPage;
  const offset = query.offset ?? ((query.page ?? 1) - 1) * limit;
  return { limit, offset, page: Math.ceil(offset / limit) + 1 };
}

/** The paging fields pageFields() answers, as OpenAPI shows them: extended by a paged answer's DTO. */
export class PageFieldsDto {
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() per_page!: number;
  @ApiProperty() pages!: number;
  @ApiProperty() limit!: number;
  @ApiProperty() offset!: number;
  @ApiProperty() has_next!: boolean;
  @ApiProperty() has_prev!: boolean;
}

/**
 * The paging fields of an answer, for `total` rows in all: `pages` counts the pages before this window's (see
 * pageWindow) and those from it to the end, so that `page` is the last of `pages` exactly when `has_next` is false
 * (a window past the end is after the last page).
 */
export function pageFields(total: number, window: PageWindow) {
  const before = Math.ceil(Math.min(window.offset, total) / window.limit);
  const from = Math.max(0, Math.ceil((total - window.offset) / window.limit));
  return {
    total,
    limit: window.limit,
    offset: window.offset,
    page: window.page,
    per_page: window.limit,
    pages: before + from,
    has_next: window.offset + window.limit < total,
    has_prev: window.offset > 0,
  };
}
