import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { QueryInt } from '../common/pagination';

/** A year: the longest period `GET /api/stats` counts over. */
export const STATS_HOURS_MAX = 8760;

export class StatsQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: STATS_HOURS_MAX, default: 24, description: 'Period, in hours' })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(STATS_HOURS_MAX)
  hours?: number;
}

class ClientCountsDto {
  @ApiProperty() total!: number;
  @ApiProperty() online!: number;
  @ApiProperty() scanning!: number;
  @ApiProperty() offline!: number;
}

class TaskCountsDto {
  @ApiProperty() total!: number;
  @ApiProperty() pending!: number;
  @ApiProperty() running!: number;
  @ApiProperty() completed!: number;
  @ApiProperty() failed!: number;
}

class AgentTaskCountsDto {
  @ApiProperty() total!: number;
  @ApiProperty({ description: 'Being pushed to the agent' }) pending!: number;
  @ApiProperty({ description: 'Taken by the agent, results not in yet' }) running!: number;
  @ApiProperty() completed!: number;
  @ApiProperty({ description: 'Unreachable, refused, timed out, reported failed, or its client revoked' })
  failed!: number;
  @ApiProperty({ description: 'Its run was stopped' }) cancelled!: number;
}

class ScanCountsDto {
  @ApiProperty() total!: number;
  @ApiProperty() completed!: number;
  @ApiProperty() failed!: number;
}

class StatsBlocksDto {
  @ApiProperty({ type: ClientCountsDto }) clients!: ClientCountsDto;
  @ApiProperty({
    type: TaskCountsDto,
    description: "Batches of the period's runs, run by worker pools and HTTP agents alike",
  })
  tasks!: TaskCountsDto;
  @ApiProperty({
    type: AgentTaskCountsDto,
    description: "Tasks pushed to HTTP agents for the period's runs (every push), by status",
  })
  agent_tasks!: AgentTaskCountsDto;
  @ApiProperty({ type: ScanCountsDto, description: 'Runs created in the period' }) scans!: ScanCountsDto;
}

export class StatsAnswerDto {
  @ApiProperty({ example: 'success' }) status!: 'success';
  @ApiProperty({ example: 24 }) period_hours!: number;
  @ApiProperty({ example: '2025-01-14T10:00:00.000Z' }) since!: string;
  @ApiProperty({ type: StatsBlocksDto }) stats!: StatsBlocksDto;
}
