import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { RUNNERS, Runner } from '@nso/contracts';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { NmapFlagsField, TargetsField } from '../common/nmap-fields';

/**
 * What a scan runs with when the request leaves a field out. The flags follow the original orchestrator's
 * `-T4 -Pn -sS` in spirit: fast timing, no host discovery, nmap's default 1000 ports, and the scan type left to
 * nmap (SYN where the worker may send raw packets, connect otherwise).
 */
export const SCAN_DEFAULTS = {
  nmapFlags: ['-T4', '-Pn'] as readonly string[],
  runner: 'asyncio' as Runner,
  chunkSize: 256,
  concurrency: 6,
};

/** The settings every way of starting or defining a scan shares (seed 000's optional fields). */
export class RunSettingsDto {
  @ApiPropertyOptional({ example: 1, description: "The project; the user's default project when omitted" })
  @IsOptional()
  @IsInt()
  @Min(1)
  project_id?: number;

  @ApiPropertyOptional({ enum: RUNNERS, default: SCAN_DEFAULTS.runner })
  @IsOptional()
  @IsIn(RUNNERS, { message: `runner must be one of: ${RUNNERS.join(', ')}` })
  runner?: Runner;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 4096,
    default: SCAN_DEFAULTS.chunkSize,
    description: 'Addresses per batch',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(4096)
  chunk_size?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 64,
    default: SCAN_DEFAULTS.concurrency,
    description: 'Batches of this scan running at once',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(64)
  concurrency?: number;
}

export class StartScanDto extends RunSettingsDto {
  @NmapFlagsField(['-sT', '-Pn', '-T4', '-p', '1-1000'], SCAN_DEFAULTS.nmapFlags)
  nmap_flags?: string[];

  @TargetsField(1024, ['127.0.0.0/28', 'localhost'])
  targets!: string[];
}

export class ScanStartedDto {
  @ApiProperty({ example: 123 }) scan_id!: number;
  @ApiProperty({ example: 'started' }) status!: 'started';
  @ApiPropertyOptional({
    description:
      'Present only when some targets are covered by no approved, online scanner client: they are not scanned (CIDRs, a single address bare)',
    example: ['127.0.51.1'],
    type: [String],
  })
  unassigned_targets?: string[];
}

export class ScanStoppingDto {
  @ApiProperty({ example: 123 }) scan_id!: number;
  @ApiProperty({ example: 'stopping' }) status!: 'stopping';
}
