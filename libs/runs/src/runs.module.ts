import { Module } from '@nestjs/common';
import { NmapModule } from '@nso/nmap';
import { AgentPushClient } from './agent-push.client';
import { AgentTaskIntake } from './agent-task-intake';
import { AgentTasks } from './agent-tasks';
import { BatchHandoff } from './batch-handoff';
import { BatchOutcomes } from './batch-outcomes';
import { BatchQueue } from './batch-queue';
import { BatchSplitter } from './batch-split';
import { ClientBatchQueues } from './client-batch-queues';
import { RunFinalizer } from './run-finalizer';
import { RunNotifier } from './run-notifier';
import { RunPlanner } from './run-planner';
import { RunProgressStore } from './run-progress.store';
import { RunReconciler } from './run-reconciler';
import { RunStateStore } from './run-state.store';
import { RunService } from './run.service';
import { ScanSchedules } from './scan-schedules';

/**
 * The run's domain, shared by gateway and worker: RunService takes every command and hands each to the part of
 * its concern (planning, batch outcomes, handing batches between clients, agents' task intake); the others are
 * the parts below them (live state, batch queue, ending, reconciliation). The table repositories come from
 * PersistenceModule.
 */
@Module({
  imports: [NmapModule],
  providers: [
    RunService,
    RunPlanner,
    BatchOutcomes,
    BatchHandoff,
    AgentTaskIntake,
    ScanSchedules,
    RunStateStore,
    RunProgressStore,
    BatchQueue,
    BatchSplitter,
    ClientBatchQueues,
    AgentTasks,
    AgentPushClient,
    RunFinalizer,
    RunNotifier,
    RunReconciler,
  ],
  exports: [
    BatchSplitter,
    RunService,
    ScanSchedules,
    RunStateStore,
    RunProgressStore,
    RunReconciler,
    ClientBatchQueues,
    AgentTasks,
  ],
})
export class RunsModule {}
