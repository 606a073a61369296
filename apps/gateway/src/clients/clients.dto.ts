// Seed 003 "Client Management": what a scanner client sends (heartbeat, update) and what the API answers.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CLIENT_KINDS, CLIENT_STATUSES, type ClientKind, type ClientStatus } from '@nso/persistence';
import { parseIpAddress, ScanScope } from '@nso/nmap';
import { isIP } from 'node:net';
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
  ValidateBy,
} from 'class-validator';
import { PageQuery, QueryBool } from '../common/pagination';
import { PlainText, Trim } from '../common/text-fields';

/** Entries a scan_range may list; a site with more networks than this should summarise them. */
export const MAX_SCAN_RANGE_ENTRIES = 64;
/** Serialised size of `system_info` or `capabilities`: descriptive data, not a store. */
export const MAX_CLIENT_INFO_CHARS = 16_384;

/**
 * A scan_range: one or more CIDRs (or bare addresses) separated by commas, at most MAX_SCAN_RANGE_ENTRIES.
 * Refused with a sentence naming the field and the first bad entry.
 */
export function parseScanRange(text: string): string[] {
  const parts = text.split(',').map((entry) => entry.trim());
  const empty = parts.indexOf('');
  if (empty >= 0 && parts.some((entry) => entry !== '')) {
    throw new Error(`has an empty entry (entry ${empty + 1}: no comma at either end or twice in a row)`);
  }
  const entries = ScanScope.parseCidrList(text);
  if (entries.length === 0) throw new Error('must list at least one CIDR');
  if (entries.length > MAX_SCAN_RANGE_ENTRIES)
    throw new Error(`lists more than ${MAX_SCAN_RANGE_ENTRIES} CIDRs`);
  return entries;
}

function IsScanRange() {
  return ValidateBy({
    name: 'isScanRange',
    validator: {
      validate: (value: unknown) => {
        if (typeof value !== 'string') return false;
        try {
          parseScanRange(value);
          return true;
        } catch {
          return false;
        }
      },
      defaultMessage: (args) => {
        const value: unknown = args?.value;
        if (typeof value !== 'string') return 'scan_range must be a string of comma-separated CIDRs';
        try {
          parseScanRange(value);
          return 'scan_range is invalid';
        } catch (error) {
          return `scan_range ${(error as Error).message.replace(/ in scope list/, '')}`;
        }
      },
    },
  });
}

/**
 * `ip_address`: an IPv4 or IPv6 literal where the agent listens, without an IPv6 zone (`%eth0`): a zone names an
 * interface of the agent's machine, which means nothing to the server that pushes to it.
 */
function IsAgentAddress() {
  return ValidateBy({
    name: 'isAgentAddress',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'string' &&
        !value.includes('%') &&
        parseIpAddress(value) !== undefined &&
        isIP(value) !== 0,
      defaultMessage: () => 'ip_address must be an IPv4 or IPv6 address (without a zone)',
    },
  });
}

/** `active_scans` as agents send it: a count, or a list of the scans they run (its length is the count). */
function IsActiveScans() {
  return ValidateBy({
    name: 'isActiveScans',
    validator: {
      validate: (value: unknown) =>
        (Number.isSafeInteger(value) && (value as number) >= 0) ||
        (Array.isArray(value) && value.length <= 10_000),
      defaultMessage: () => 'active_scans must be a non-negative integer or a list',
    },
  });
}

/** `system_info` and `capabilities`: a JSON object or list of at most MAX_CLIENT_INFO_CHARS, stored as sent. */
function IsClientInfo() {
  return ValidateBy({
    name: 'isClientInfo',
    validator: {
      validate: (value: unknown) =>
        value !== null && typeof value === 'object' && JSON.stringify(value).length <= MAX_CLIENT_INFO_CHARS,
      defaultMessage: (args) =>
        `${args?.property ?? 'value'} must be a JSON object or list of at most ${MAX_CLIENT_INFO_CHARS} characters`,
    },
  });
}

export class HeartbeatDto {
  @ApiPropertyOptional({
    example: 'aa:bb:cc:dd:ee:ff',
    description: "Must equal the URL's client_id when sent (400 otherwise)",
  })
  @IsOptional()
  @IsString()
  @PlainText()
  client_id?: string;

  @ApiProperty({ example: 'scanner-01' })
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(255)
  hostname!: string;

  @ApiProperty({ example: '127.0.0.2', description: 'An IPv4 or IPv6 literal: where the agent listens' })
  @IsString()
  @PlainText()
  @IsAgentAddress()
  ip_address!: string;

  @ApiProperty({ example: 8080, minimum: 1, maximum: 65535 })
  @IsInt({ message: 'port must be an integer from 1 to 65535' })
  @Min(1, { message: 'port must be an integer from 1 to 65535' })
  @Max(65535, { message: 'port must be an integer from 1 to 65535' })
  port!: number;

  @ApiProperty({
    example: '127.0.0.0/24',
    description:
      'One or more CIDRs separated by commas. The part outside the scan scope is never delegated ' +
      '(the answer lists it in `scan_range_outside_scope`)',
  })
  @IsString()
  @PlainText()
  @MaxLength(8192)
  @IsScanRange()
  scan_range!: string;

  @ApiPropertyOptional({ example: 0, description: 'A count, or a list of the scans the agent runs' })
  @IsOptional()
  @IsActiveScans()
  active_scans?: number | unknown[];

  @ApiPropertyOptional({ example: { os: 'Linux', nmap_version: '7.94' }, type: Object })
  @IsOptional()
  @IsClientInfo()
  system_info?: object;

  @ApiPropertyOptional({ example: { scan_types: ['tcp_connect'] }, type: Object })
  @IsOptional()
  @IsClientInfo()
  capabilities?: object;
}

export class UpdateClientDto {
  @ApiPropertyOptional({ example: 'scanner-01-updated' })
  @IsOptional()
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(255)
  hostname?: string;

  @ApiPropertyOptional({
    enum: CLIENT_STATUSES,
    example: 'offline',
    description: 'An agent sends offline on shutdown',
  })
  @IsOptional()
  @IsString()
  @PlainText()
  @IsIn([...CLIENT_STATUSES])
  status?: ClientStatus;

  @ApiPropertyOptional({ example: '127.0.0.2' })
  @IsOptional()
  @IsString()
  @PlainText()
  @IsAgentAddress()
  ip_address?: string;

  @ApiPropertyOptional({ example: 8080, minimum: 1, maximum: 65535 })
  @IsOptional()
  @IsInt({ message: 'port must be an integer from 1 to 65535' })
  @Min(1, { message: 'port must be an integer from 1 to 65535' })
  @Max(65535, { message: 'port must be an integer from 1 to 65535' })
  port?: number;

  @ApiPropertyOptional({ example: '127.0.0.0/24' })
  @IsOptional()
  @IsString()
  @PlainText()
  @MaxLength(8192)
  @IsScanRange()
  scan_range?: string;
}

export class ListClientsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: CLIENT_STATUSES })
  @IsOptional()
  @IsString()
  @PlainText()
  @IsIn([...CLIENT_STATUSES])
  status?: ClientStatus;

  @ApiPropertyOptional({ type: Boolean })
  @IsOptional()
  @QueryBool()
  @IsBoolean()
  is_approved?: boolean;

  @ApiPropertyOptional({ enum: CLIENT_KINDS })
  @IsOptional()
  @IsString()
  @PlainText()
  @IsIn([...CLIENT_KINDS])
  kind?: ClientKind;
}

export class ClientDto {
  @ApiProperty({ example: 1 }) id!: number;
  @ApiProperty({ example: 'aa:bb:cc:dd:ee:ff' }) client_id!: string;
  @ApiProperty({ enum: CLIENT_KINDS, example: 'agent' }) kind!: ClientKind;
  @ApiProperty({ example: 'scanner-01', nullable: true, type: String }) hostname!: string | null;
  @ApiProperty({ example: '127.0.0.2', nullable: true, type: String }) ip_address!: string | null;
  @ApiProperty({ example: 8080, nullable: true, type: Number }) port!: number | null;
  @ApiProperty({ example: '127.0.0.0/24', description: 'Comma-separated CIDRs' }) scan_range!: string;
  @ApiProperty({ example: [], type: [String], description: 'The part of scan_range outside the scan scope' })
  scan_range_outside_scope!: string[];
  @ApiProperty({ enum: CLIENT_STATUSES, example: 'online' }) status!: ClientStatus;
  @ApiProperty({ example: true }) is_approved!: boolean;
  @ApiProperty({ example: true, description: 'False after a toggle: shown offline, given no work' })
  is_enabled!: boolean;
  @ApiProperty({ example: 0 }) active_scans!: number;
  @ApiProperty({ example: '2026-11-30T03:00:00.000Z', nullable: true, type: String }) last_seen!:
    string | null;
  @ApiProperty({ example: '2026-11-29T08:00:00.000Z' }) created_at!: string;
  @ApiPropertyOptional({ type: Object, nullable: true }) capabilities?: unknown;
  @ApiPropertyOptional({ type: Object, nullable: true }) system_info?: unknown;
  @ApiPropertyOptional({ description: 'Admins only: source address of the last accepted request' })
  source_ip?: string | null;
  @ApiPropertyOptional({ description: 'Admins only: the address an approved agent is bound to' })
  approved_ip?: string | null;
  @ApiPropertyOptional({ description: 'Admins only' }) approved_at?: string | null;
  @ApiPropertyOptional({
    description: 'Admins only: last address a request for this client was refused from',
  })
  refused_ip?: string | null;
  @ApiPropertyOptional({ description: 'Admins only' }) refused_at?: string | null;
  @ApiPropertyOptional({ description: 'Admins only: refused requests in all' }) refused_count?: number;
}

export class HeartbeatAnswerDto {
  @ApiProperty({ example: 'success' }) status!: 'success';
  @ApiProperty({ example: 'Client updated successfully' }) message!: string;
  @ApiProperty({ example: true }) approved!: boolean;
  @ApiPropertyOptional({
    type: [String],
    description: 'Present when part of scan_range is outside the scope',
  })
  scan_range_outside_scope?: string[];
}

export class ClientAnswerDto {
  @ApiProperty({ example: 'success' }) status!: 'success';
  @ApiProperty({ example: 'Client approved successfully' }) message!: string;
  @ApiProperty({ type: ClientDto }) client!: ClientDto;
}

export class ClientDetailsDto {
  @ApiProperty({ example: 'success' }) status!: 'success';
  @ApiProperty({ type: ClientDto }) client!: ClientDto;
  @ApiProperty({
    type: [Object],
    example: [],
    description: 'The latest agent tasks of the client (task_id to admins only)',
  })
  recent_tasks!: unknown[];
}

export class ClientListDto {
  @ApiProperty({ example: 'success' }) status!: 'success';
  @ApiProperty({ type: [ClientDto] }) clients!: ClientDto[];
  @ApiProperty({ example: 1 }) total!: number;
  @ApiProperty({ example: 1 }) page!: number;
  @ApiProperty({ example: 50 }) per_page!: number;
  @ApiProperty({ example: false }) has_next!: boolean;
  @ApiProperty({ example: false }) has_prev!: boolean;
}
