import { Module } from '@nestjs/common';
import { BatchScheduler } from './batch-scheduler';
import { RunFinalizer } from './run-finalizer';
import { RunReconciler } from './run-reconciler';
import { RunStateStore } from './run-state.store';

/** What gateway and worker share to drive a run: its live state, its queue, its end, its reconciliation. */
@Module({
  providers: [RunStateStore, BatchScheduler, RunFinalizer, RunReconciler],
  exports: [RunStateStore, BatchScheduler, RunFinalizer, RunReconciler],
})
export class RunsModule {}
