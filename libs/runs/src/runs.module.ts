import { Module } from '@nestjs/common';
import { NmapModule } from '@nso/nmap';
import { BatchScheduler } from './batch-scheduler';
import { RunFinalizer } from './run-finalizer';
import { RunReconciler } from './run-reconciler';
import { RunStateStore } from './run-state.store';
import { RunService } from './run.service';
import { ScanSchedules } from './scan-schedules';

/** What gateway and worker share to drive a run: its live state, its queue, its end, its reconciliation. */
@Module({
  imports: [NmapModule],
  providers: [RunService, ScanSchedules, RunStateStore, BatchScheduler, RunFinalizer, RunReconciler],
  exports: [RunService, ScanSchedules, RunStateStore, BatchScheduler, RunFinalizer, RunReconciler],
})
export class RunsModule {}
