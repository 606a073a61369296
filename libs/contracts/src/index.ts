export * from './events';
export * from './queues';
export * from './redis-keys';
export * from './notifications';
