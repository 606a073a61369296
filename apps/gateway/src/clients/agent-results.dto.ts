// Seed 003 "Submit Scan Results": what an agent posts for one task, and what the API answers.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  ValidateBy,
} from 'class-validator';
import { PlainText } from '../common/text-fields';
import { RunResultsSummaryDto } from '../results/run-summary';

/** The counts of `summary_stats` this server knows (the original agent's, and seed 003's); others are ignored. */
export const SUMMARY_STATS_FIELDS = [
  'total_targets',
  'scanned_targets',
  'completed_targets',
  'targets_up',
  'targets_down',
  'error_targets',
  'total_open_ports',
] as const;

/** `summary_stats`: an object whose known counts (SUMMARY_STATS_FIELDS), when present, are non-negative integers. */
function IsSummaryStats() {
  return ValidateBy({
    name: 'isSummaryStats',
    validator: {
      validate: (value: unknown) =>
        value !== null &&
        typeof value === 'object' &&
        !Array.isArray(value) &&
        SUMMARY_STATS_FIELDS.every((field) => {
          const count = (value as Record<string, unknown>)[field];
          return count === undefined || (Number.isSafeInteger(count) && (count as number) >= 0);
        }),
      defaultMessage: () =>
        `summary_stats must be an object whose counts (${SUMMARY_STATS_FIELDS.join(', ')}) are non-negative integers`,
    },
  });
}

/** `scan_id` as agents echo it from the push: the integer, or its canonical decimal spelling. */
function IsScanIdValue() {
  return ValidateBy({
    name: 'isScanIdValue',
    validator: {
      validate: (value: unknown) =>
        (Number.isSafeInteger(value) && (value as number) >= 1) ||
        (typeof value === 'string' && /^[1-9][0-9]{0,14}$/.test(value)),
      defaultMessage: () => 'scan_id must be the scan id the task was pushed with (a positive integer)',
    },
  });
}

/**
 * Seed 003 "Submit Scan Results": what an agent posts for one task, with the fields the original agent adds
 * (docs/clients.md "What the original agent sends"). `parsed_results` is read by agentResultHosts in one pass,
 * not by class-transformer. Top-level fields not declared here are ignored (agent-fields.ts).
 */
export class SubmitResultsDto {
  @ApiProperty({ example: 42, description: 'The run (result_id) the task belongs to' })
  @IsInt()
  @Min(1)
  result_id!: number;

  @ApiProperty({ example: '9f2c…', description: 'The task_id the server pushed with the task' })
  @IsString()
  @PlainText()
  @MaxLength(200)
  task_id!: string;

  @ApiProperty({ enum: ['completed', 'failed'], example: 'completed' })
  @IsIn(['completed', 'failed'])
  status!: 'completed' | 'failed';

  @ApiPropertyOptional({
    example: 7,
    description:
      "The scan_id of the push, echoed by the original agent: must be the task's scan (400 otherwise)",
  })
  @IsOptional()
  @IsScanIdValue()
  scan_id?: number | string;

  @ApiPropertyOptional({
    example: 'pdr-agent-1',
    description: "Sent by the original agent: must equal the URL's client_id (400 otherwise)",
  })
  @IsOptional()
  @IsString()
  @PlainText()
  @MaxLength(255)
  client_id?: string;

  @ApiPropertyOptional({
    example: 12.5,
    description: "Seconds the agent's scan took (informative; not stored)",
  })
  @IsOptional()
  @IsNumber(
    { allowNaN: false, allowInfinity: false },
    { message: 'scan_duration must be a number of seconds' },
  )
  @Min(0, { message: 'scan_duration must be a number of seconds' })
  scan_duration?: number;

  @ApiPropertyOptional({
    example: '2026-12-06T21:00:00.123456+00:00',
    description: 'When the agent sent it, ISO 8601 (informative; not stored)',
  })
  @IsOptional()
  @IsString()
  @PlainText()
  @MaxLength(64)
  @IsISO8601({}, { message: 'timestamp must be an ISO 8601 date and time' })
  timestamp?: string;

  @ApiPropertyOptional({
    type: Object,
    description:
      'Keyed by address: `{hostname, state, open_ports: [22], port_details: {"22": {protocol, state, name, ' +
      'product, version, extrainfo}}}`; other keys of a host (the original agent adds `target`, `nmap`, ' +
      '`addresses`, `vendor`, `os_detection`) are ignored',
  })
  @IsOptional()
  @IsObject()
  parsed_results?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: Object,
    description: `The agent's own counts (informative; not stored): ${SUMMARY_STATS_FIELDS.join(', ')}`,
  })
  @IsOptional()
  @IsSummaryStats()
  summary_stats?: Record<string, unknown>;

  @ApiPropertyOptional({
    description: 'Why the task failed, with status failed (the original agent: error_message)',
  })
  @IsOptional()
  @IsString()
  @PlainText({ allowLineBreaks: true })
  @MaxLength(4000)
  error_message?: string;

  @ApiPropertyOptional({ description: 'The same as error_message (either may be sent)' })
  @IsOptional()
  @IsString()
  @PlainText({ allowLineBreaks: true })
  @MaxLength(4000)
  error?: string;
}

export class ResultsAnswerDto {
  @ApiProperty({ example: 'Scan results received successfully' }) message!: string;
  @ApiProperty({ example: 42 }) result_id!: number;
  @ApiProperty({ type: RunResultsSummaryDto }) summary!: RunResultsSummaryDto;
}
