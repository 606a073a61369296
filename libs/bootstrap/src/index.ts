export * from './infrastructure';
export * from './process-lifecycle';
