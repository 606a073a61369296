export * from './infrastructure';
export * from './process-lifecycle';
export * from './heartbeat';
