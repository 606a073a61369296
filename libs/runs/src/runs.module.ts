import { Module } from '@nestjs/common';
import { BatchScheduler } from './batch-scheduler';
import { RunFinalizer } from './run-finalizer';
import { RunStateStore } from './run-state.store';

/** What gateway and worker share to drive a run: its live state, its queue, its end. */
@Module({
  providers: [RunStateStore, BatchScheduler, RunFinalizer],
  exports: [RunStateStore, BatchScheduler, RunFinalizer],
})
export class RunsModule {}
