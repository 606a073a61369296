// What apps use of the run's domain: its commands (RunService), the live progress a gateway reads, and the
// reconciliation a worker schedules. The queue, the finalizer and the state's scripts stay inside.
export * from './run-reconciler';
export { BatchSplitter, type SplitOutcome, type StragglerBatch } from './batch-split';
export { RunStateStore, type RunProgress } from './run-state.store';
export * from './run-progress';
export { RunProgressStore, type RunProgressSnapshot } from './run-progress.store';
export * from './runs.module';
export * from './run.errors';
export * from './run.service';
export * from './run-commands';
export * from './scan-schedules';
export { ClientBatchQueues } from './client-batch-queues';
export { AgentTasks } from './agent-tasks';
export * from './run-notifier';
