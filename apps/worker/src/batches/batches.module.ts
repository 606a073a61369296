import { Module } from '@nestjs/common';
import { RunsModule } from '@nso/runs';
import { BatchQueueConsumer } from './batch-queue.consumer';
import { BatchRunService } from './batch-run.service';
import { BatchWatches } from './batch-watch';
import { StopListener } from './stop-listener';

@Module({
  imports: [RunsModule],
  providers: [BatchRunService, BatchWatches, BatchQueueConsumer, StopListener],
})
export class BatchesModule {}
