// The `progress` of `GET /api/results/{result_id}`: a queued or running run's live progress as Redis holds it
// (RunProgressStore: any gateway answers the same), a finished run's from its row. Also the schema of the
// `progress` event for the OpenAPI document.
import { Injectable } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ScanResult } from '@nso/persistence';
import { RunProgressStore } from '@nso/runs';

/** One running batch's nmap progress (the `batch` of a `progress` event, with its `batch_id`). */
export class BatchProgressDto {
  @ApiProperty({ example: 3 }) batch_id!: number;
  @ApiProperty({
    example: 'Connect Scan',
    nullable: true,
    type: String,
    description: "nmap's task at its last report; null before its first",
  })
  task!: string | null;
  @ApiProperty({
    example: 62.5,
    nullable: true,
    type: Number,
    description: "nmap's percent of that task (<taskprogress percent>)",
  })
  task_percent!: number | null;
  @ApiProperty({
    example: 62.5,
    description:
      'How far the batch is, 0–100: the highest of its hosts done in percent and the task percent of its port or ' +
      'service scan (host discovery does not count); never goes back',
  })
  percent!: number;
  @ApiProperty({
    example: 7,
    nullable: true,
    type: Number,
    description: "nmap's estimate of the task's remaining seconds",
  })
  remaining_seconds!: number | null;
  @ApiProperty({ example: 0, description: 'Addresses of the batch nmap is done with' }) hosts_done!: number;
  @ApiProperty({ example: 256, description: 'Addresses of the batch' }) hosts_total!: number;
}

/** How far a run is: the `progress` event's run fields, and `GET /api/results/{id}`'s `progress`. */
export class RunProgressDto {
  @ApiProperty({
    example: 40.62,
    description:
      '(finished batches + the running batches’ percent / 100) / batches_total, in percent, two decimals; 100 once ' +
      'every batch finished (done or failed)',
  })
  percent!: number;
  @ApiProperty({ example: 1 }) batches_done!: number;
  @ApiProperty({ example: 0 }) batches_failed!: number;
  @ApiProperty({ example: 4 }) batches_total!: number;
  @ApiProperty({
    example: 256,
    description: 'Addresses of completed batches plus those the running batches’ nmap is done with',
  })
  hosts_done!: number;
  @ApiProperty({ example: 1024, nullable: true, type: Number, description: 'Addresses of the run' })
  hosts_total!: number | null;
  @ApiProperty({
    example: 14,
    nullable: true,
    type: Number,
    description:
      'Seconds the run should still take at its rate so far: elapsed × (100 − percent) / percent; 0 once ' +
      'completed; null before any progress and for a stopped or failed run',
  })
  eta_seconds!: number | null;
}

/** `GET /api/results/{id}`'s `progress`: the run's, with the batches running now. */
export class RunProgressWithBatchesDto extends RunProgressDto {
  @ApiProperty({
    type: [BatchProgressDto],
    description:
      'The batches running now, by batch_id, as their nmap last reported (empty once the run ended)',
  })
  running_batches!: BatchProgressDto[];
}

/** The `progress` event (WebSocket and SSE): the run's progress, and the batch whose report it carries. */
export class ProgressEventDto extends RunProgressDto {
  @ApiProperty({ example: 'progress' }) event!: 'progress';
  @ApiPropertyOptional({
    example: 2,
    description: 'The batch whose nmap reported; absent on the event sent when a batch finished',
  })
  batch_id?: number;
  @ApiPropertyOptional({ type: BatchProgressDto, description: 'That batch’s progress (without batch_id)' })
  batch?: Omit<BatchProgressDto, 'batch_id'>;
}

type RunRow = Pick<
  ScanResult,
  'id' | 'status' | 'batchesDone' | 'batchesFailed' | 'batchesTotal' | 'targetsTotal'
>;

/** Reads a run's progress for `GET /api/results/{id}`. */
@Injectable()
export class RunProgressReader {
  constructor(private readonly store: RunProgressStore) {}

  /**
   * A queued or running run's progress from Redis (finished batches counted before the database row moves), a
   * finished run's (or one Redis no longer holds) from its row: `completedTargets` is the summary's addresses of
   * completed batches.
   */
  async of(run: RunRow, completedTargets: number): Promise<RunProgressWithBatchesDto> {
    const live =
      run.status === 'running' || run.status === 'queued' ? await this.store.snapshot(run.id) : undefined;
    if (live) {
      const { running, ...view } = live;
      return {
        ...view,
        hosts_total: view.hosts_total ?? run.targetsTotal,
        running_batches: [...running.entries()]
          .sort(([a], [b]) => a - b)
          .map(([seq, report]) => ({
            batch_id: seq,
            task: report.task ?? null,
            task_percent: report.taskPercent ?? null,
            percent: report.percent,
            remaining_seconds: report.remaining ?? null,
            hosts_done: report.hostsDone,
            hosts_total: report.hostsTotal,
          })),
      };
    }
    const finished = run.batchesDone + run.batchesFailed;
    const total = run.batchesTotal;
    return {
      percent: total ? Math.floor((finished * 10000) / total) / 100 : 100,
      batches_done: run.batchesDone,
      batches_failed: run.batchesFailed,
      batches_total: total,
      hosts_done: completedTargets,
      hosts_total: run.targetsTotal,
      eta_seconds: run.status === 'completed' ? 0 : null,
      running_batches: [],
    };
  }
}
