// The wire of the asset routes (issue 21, docs/api.md "Assets"): the inventory's query, the path parameters of a
// port's history, and the answers' shapes for the OpenAPI document.
import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { PlainText } from '../common/text-fields';
import { PageFieldsDto, PageQuery, QueryBool, QueryInt } from '../common/pagination';

/**
 * The protocols a port of a host can be named in: nmap's port scans (TCP, UDP, SCTP), and `ip`, the IP protocol
 * numbers an `-sO` scan stores as its ports.
 */
export const PORT_PROTOCOLS = ['tcp', 'udp', 'sctp', 'ip'] as const;
export type PortProtocol = (typeof PORT_PROTOCOLS)[number];

/** The host states the inventory filters on: up in the latest run that looked at it, or not. */
export const INVENTORY_HOST_STATES = ['up', 'down'] as const;

/** `GET /api/scans/{scan_id}/hosts`: paging and filters (every filter given must hold; ports filters together). */
export class ScanHostsQuery extends PageQuery {
  @ApiPropertyOptional({
    minimum: 1,
    maximum: 65535,
    example: 22,
    description: 'Only hosts with this port open',
  })
  @IsOptional()
  @QueryInt()
  @IsInt({ message: 'port must be an integer from 1 to 65535' })
  @Min(1, { message: 'port must be an integer from 1 to 65535' })
  @Max(65535, { message: 'port must be an integer from 1 to 65535' })
  port?: number;

  @ApiPropertyOptional({ enum: PORT_PROTOCOLS, description: 'Only hosts with a port of this protocol open' })
  @IsOptional()
  @IsIn(PORT_PROTOCOLS, { message: `protocol must be one of: ${PORT_PROTOCOLS.join(', ')}` })
  protocol?: PortProtocol;

  @ApiPropertyOptional({
    enum: INVENTORY_HOST_STATES,
    description: 'Only hosts in this state in the latest run that looked at them',
  })
  @IsOptional()
  @IsIn(INVENTORY_HOST_STATES, { message: `state must be one of: ${INVENTORY_HOST_STATES.join(', ')}` })
  state?: (typeof INVENTORY_HOST_STATES)[number];

  @ApiPropertyOptional({
    example: 'ssh',
    description: 'Only hosts with an open port of this service name (nmap’s, any case)',
  })
  @IsOptional()
  @IsString({ message: 'service must be a string' })
  @PlainText()
  @MaxLength(255, { message: 'service must be at most 255 characters' })
  service?: string;

  @ApiPropertyOptional({
    description:
      'true: only hosts with at least one open port the scan’s expected_ports does not expect; false: only hosts ' +
      'with none (a scan without expected_ports has no unexpected port)',
  })
  @IsOptional()
  @QueryBool()
  @IsBoolean({ message: 'unexpected must be true or false' })
  unexpected?: boolean;
}

/** `{protocol}` of a port's history: tcp, udp, sctp or ip (lower case), else 400 naming it. */
@Injectable()
export class ParseProtocolPipe implements PipeTransform<unknown, PortProtocol> {
  transform(value: unknown): PortProtocol {
    if (typeof value === 'string' && (PORT_PROTOCOLS as readonly string[]).includes(value))
      return value as PortProtocol;
    throw new BadRequestException({
      error: `protocol must be one of: ${PORT_PROTOCOLS.join(', ')}`,
      field: 'protocol',
    });
  }
}

/** `{port}` of a port's history: 1-65535 in canonical decimal ("22", not "022" or "22.0"), else 400 naming it. */
@Injectable()
export class ParsePortPipe implements PipeTransform<unknown, number> {
  transform(value: unknown): number {
    if (typeof value === 'string' && /^[1-9][0-9]{0,4}$/.test(value) && Number(value) <= 65535)
      return Number(value);
    throw new BadRequestException({ error: 'port must be an integer from 1 to 65535', field: 'port' });
  }
}

/** A run in which something was seen: which run, of which scan, and when it finished (null while running). */
export class SightingDto {
  @ApiProperty({ example: 42 }) result_id!: number;
  @ApiProperty({ example: 7 }) scan_id!: number;
  @ApiProperty({ example: '2026-12-07T06:00:00.000Z', nullable: true, type: String }) finished_at!:
    string | null;
}

/** A port of a host as `GET /api/hosts/{address}` lists it. */
export class HostPortDto {
  @ApiProperty({ example: 'tcp' }) protocol!: string;
  @ApiProperty({ example: 22 }) port!: number;
  @ApiProperty({ example: 'ssh', nullable: true, type: String }) service!: string | null;
  @ApiProperty({ example: 'OpenSSH', nullable: true, type: String }) product!: string | null;
  @ApiProperty({ example: '9.6p1', nullable: true, type: String }) version!: string | null;
  @ApiProperty({
    description:
      'Open in the latest run that looked at this port of the host (false: seen open before, not now)',
  })
  open_now!: boolean;
  @ApiProperty({ type: SightingDto, description: 'The first run that found it open' })
  first_seen!: SightingDto;
  @ApiProperty({ type: SightingDto, description: 'The last run that found it open' }) last_seen!: SightingDto;
}

/** A run that listed the host. */
export class HostRunDto {
  @ApiProperty({ example: 42 }) result_id!: number;
  @ApiProperty({ example: 7 }) scan_id!: number;
  @ApiProperty({ example: 'Lab sweep' }) scan_name!: string;
  @ApiProperty({ example: 'schedule' }) trigger!: string;
  @ApiProperty({ nullable: true, type: String }) finished_at!: string | null;
  @ApiProperty({ example: 'up', description: 'nmap’s host state in that run' }) state!: string;
}

/** A scan whose runs listed the host. */
export class HostScanDto {
  @ApiProperty({ example: 7 }) scan_id!: number;
  @ApiProperty({ example: 'Lab sweep' }) scan_name!: string;
  @ApiProperty({ example: 12, description: 'How many of its runs listed the host' }) runs!: number;
}

/** `GET /api/hosts/{address}`. */
export class HostAssetDto {
  @ApiProperty({ example: 'success' }) status!: string;
  @ApiProperty({ example: '127.0.0.1' }) address!: string;
  @ApiProperty({
    example: 'up',
    description: 'State in the latest run that looked at it (`down`: not listed)',
  })
  state!: string;
  @ApiProperty({ type: [String], description: 'Host names of the latest run that listed any' })
  hostnames!: string[];
  @ApiProperty({ type: SightingDto, nullable: true, description: 'The first run that found it up' })
  first_seen!: SightingDto | null;
  @ApiProperty({ type: SightingDto, nullable: true, description: 'The last run that found it up' })
  last_seen_up!: SightingDto | null;
  @ApiProperty({ type: SightingDto, description: 'The last run that looked at it (listed or not)' })
  last_seen!: SightingDto;
  @ApiProperty({ type: [HostPortDto], description: 'Every port ever seen open, open_now first' })
  ports!: HostPortDto[];
  @ApiProperty({ type: [HostScanDto] }) scans!: HostScanDto[];
  @ApiProperty({ example: 3, description: 'Runs that listed the host' }) runs_total!: number;
  @ApiProperty({ type: [HostRunDto], description: 'Newest first, the first 50' }) runs!: HostRunDto[];
}

/** An open port of an inventory entry. */
export class InventoryPortDto {
  @ApiProperty({ example: 'tcp' }) protocol!: string;
  @ApiProperty({ example: 22 }) port!: number;
  @ApiProperty({ nullable: true, type: String }) service!: string | null;
  @ApiProperty({ nullable: true, type: String }) product!: string | null;
  @ApiProperty({ nullable: true, type: String }) version!: string | null;
  @ApiPropertyOptional({
    enum: ['expected', 'unexpected'],
    description: 'Only when the scan has expected_ports',
  })
  exposure?: 'expected' | 'unexpected';
}

/** One address of a scan's inventory. */
export class InventoryHostDto {
  @ApiProperty({ example: '127.0.0.1' }) address!: string;
  @ApiProperty({
    example: 'up',
    description: 'State in the latest run that looked at it (`down`: not listed)',
  })
  state!: string;
  @ApiProperty({ type: SightingDto, nullable: true }) first_seen!: SightingDto | null;
  @ApiProperty({ type: SightingDto, nullable: true }) last_seen_up!: SightingDto | null;
  @ApiProperty({ type: SightingDto }) last_seen!: SightingDto;
  @ApiProperty({ type: [InventoryPortDto], description: 'Open in the latest run that looked at the host' })
  open_ports!: InventoryPortDto[];
  @ApiPropertyOptional({ description: 'Open ports not expected; only when the scan has expected_ports' })
  unexpected?: number;
}

/** `GET /api/scans/{scan_id}/hosts`. */
export class ScanHostsDto extends PageFieldsDto {
  @ApiProperty({ example: 'success' }) status!: string;
  @ApiProperty({ example: 7 }) scan_id!: number;
  @ApiProperty({ description: 'Whether the scan has expected_ports (then ports carry `exposure`)' })
  expected_ports!: boolean;
  @ApiProperty({ type: [InventoryHostDto] }) hosts!: InventoryHostDto[];
}

/** One run of a port's history. */
export class PortHistoryEntryDto {
  @ApiProperty({ example: 42 }) result_id!: number;
  @ApiProperty({ example: 7 }) scan_id!: number;
  @ApiProperty({ example: 'schedule' }) trigger!: string;
  @ApiProperty({ nullable: true, type: String }) finished_at!: string | null;
  @ApiProperty({
    example: 'open',
    description:
      'nmap’s port state; for a port nmap scanned and did not list, the host’s unlisted state (else `closed`); ' +
      '`host-down` when the host did not answer',
  })
  state!: string;
  @ApiProperty({ nullable: true, type: String }) service!: string | null;
  @ApiProperty({ nullable: true, type: String }) product!: string | null;
  @ApiProperty({ nullable: true, type: String }) version!: string | null;
}

/** `GET /api/hosts/{address}/ports/{protocol}/{port}/history`. */
export class PortHistoryDto extends PageFieldsDto {
  @ApiProperty({ example: 'success' }) status!: string;
  @ApiProperty({ example: '127.0.0.1' }) address!: string;
  @ApiProperty({ example: 'tcp' }) protocol!: string;
  @ApiProperty({ example: 22 }) port!: number;
  @ApiProperty({ type: [PortHistoryEntryDto], description: 'Newest first' }) history!: PortHistoryEntryDto[];
}
