import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { RUNNERS, Runner } from '@nso/contracts';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { NmapFlagsField, TargetsField } from '../nmap/nmap-fields';

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

/** One client group's share of a dry-run start. */
export class StartPreviewPartDto {
  @ApiProperty({
    example: ['local'],
    description: 'Client ids sharing these addresses; batches go to them in turn',
  })
  clients!: string[];
  @ApiProperty({ example: [], description: 'Which of `clients` are HTTP agents' }) agents!: string[];
  @ApiProperty({
    example: ['127.0.0.0/28', '127.0.0.20'],
    description: 'The addresses this group scans, as CIDRs (a single address bare)',
  })
  target_ranges!: string[];
  @ApiProperty({ example: 16, description: 'Addresses' }) targets!: number;
  @ApiProperty({ example: 1 }) batches!: number;
  @ApiProperty({ example: 256, description: 'Addresses per batch of this part' }) chunk_size!: number;
}

/** Why a start with these settings would be refused now: the status and body the start would answer. */
export class StartPreviewRefusalDto {
  @ApiProperty({ enum: [400, 409] }) status!: 400 | 409;
  @ApiProperty({ example: 'targets outside the scan scope: 192.0.2.10' }) error!: string;
  @ApiPropertyOptional({ type: [String] }) out_of_scope?: string[];
  @ApiPropertyOptional({ type: [String] }) unassigned_targets?: string[];
}

export class StartPreviewDto {
  @ApiProperty({ example: 'success' }) status!: 'success';
  @ApiProperty({ example: true }) dry_run!: true;
  @ApiProperty({ description: 'A start with this body would be accepted now' }) would_start!: boolean;
  @ApiProperty({ type: StartPreviewRefusalDto, nullable: true }) refusal!: StartPreviewRefusalDto | null;
  @ApiProperty({ example: ['-T4', '-Pn'], description: 'The options as the policy normalised them' })
  nmap_flags!: string[];
  @ApiProperty({
    example: { localhost: ['127.0.0.1'] },
    description: 'Host names and the addresses they resolved to',
  })
  resolved_names!: Record<string, string[]>;
  @ApiProperty({ example: 17, description: 'Distinct addresses of the in-scope targets' }) addresses!: number;
  @ApiProperty({ example: 17, description: 'Addresses delegated to a client (scanned)' })
  targets_total!: number;
  @ApiProperty({ example: 1 }) batches_total!: number;
  @ApiProperty({ example: 256 }) chunk_size!: number;
  @ApiProperty({ example: 6 }) concurrency!: number;
  @ApiProperty({ type: [StartPreviewPartDto] }) delegation!: StartPreviewPartDto[];
  @ApiProperty({ example: ['local'] }) clients_triggered!: string[];
  @ApiProperty({ example: [], description: 'In-scope addresses no approved, online client covers' })
  unassigned_targets!: string[];
  @ApiProperty({ example: [], description: 'Targets outside the scan scope' }) out_of_scope!: string[];
}
