export * from './batch-scheduler';
export * from './run-finalizer';
export * from './run-reconciler';
export * from './run-state.store';
export * from './runs.module';
export * from './run.errors';
export * from './run.service';
export * from './scan-schedules';
