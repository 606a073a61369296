// The scan events of stalled and straggling batches, as OpenAPI schemas (docs/api.md "Stalls and stragglers"):
// what the WebSocket and the SSE stream of a scan send besides seed 000's events. Documentation only: the
// events' TypeScript shapes are ScanEventMap's (libs/contracts).
import { ApiProperty } from '@nestjs/swagger';

/** `batch_stalled`: the batch's nmap reported no progress for BATCH_STALL_SECONDS and was stopped. */
export class BatchStalledEventDto {
  @ApiProperty({ example: 'batch_stalled', enum: ['batch_stalled'] }) event!: 'batch_stalled';
  @ApiProperty({ example: 3 }) batch_id!: number;
  @ApiProperty({ example: 600, description: 'Seconds without progress (a new host, task or higher percent)' })
  seconds!: number;
  @ApiProperty({ example: 1, description: 'The attempt that stalled; batch_failed follows' })
  attempt!: number;
  @ApiProperty({ example: 'worker-a' }) worker!: string;
}

/** `batch_split`: a straggler handed its unreported addresses back as new batches of the run. */
export class BatchSplitEventDto {
  @ApiProperty({ example: 'batch_split', enum: ['batch_split'] }) event!: 'batch_split';
  @ApiProperty({ example: 2, description: 'The straggler; its batch_complete (hosts reported) follows' })
  batch_id!: number;
  @ApiProperty({ example: [5, 6], description: 'The new batches (numbered after the run’s last)' })
  batch_ids!: number[];
  @ApiProperty({ example: 1, description: 'Hosts nmap had reported: the straggler’s result' })
  hosts_reported!: number;
  @ApiProperty({ example: 7, description: 'Addresses not reported, scanned by the new batches' })
  targets_requeued!: number;
  @ApiProperty({ example: 'worker-a' }) worker!: string;
}
