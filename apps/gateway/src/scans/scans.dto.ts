import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { RUNNERS, Runner } from '@nso/contracts';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { NmapFlagsField, TargetsField } from '../common/nmap-fields';

export class StartScanDto {
  @ApiPropertyOptional({ example: 1, description: "The project; the user's default project when omitted" })
  @IsOptional()
  @IsInt()
  @Min(1)
  project_id?: number;

  @NmapFlagsField(['-sT', '-Pn', '-T4', '-p', '1-1000'])
  nmap_flags!: string[];

  @TargetsField(1024, ['127.0.0.0/28', 'localhost'])
  targets!: string[];

  @ApiPropertyOptional({ enum: RUNNERS, default: 'asyncio' })
  @IsOptional()
  @IsIn(RUNNERS, { message: `runner must be one of: ${RUNNERS.join(', ')}` })
  runner?: Runner;

  @ApiPropertyOptional({ minimum: 1, maximum: 4096, default: 256, description: 'Addresses per batch' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(4096)
  chunk_size?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 64,
    default: 6,
    description: 'Batches of this scan running at once',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(64)
  concurrency?: number;
}

export class ScanStartedDto {
  @ApiProperty({ example: 123 }) scan_id!: number;
  @ApiProperty({ example: 'started' }) status!: 'started';
}

export class ScanStoppingDto {
  @ApiProperty({ example: 123 }) scan_id!: number;
  @ApiProperty({ example: 'stopping' }) status!: 'stopping';
}
