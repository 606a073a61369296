export * from './redis-connection';
export * from './redis.module';
export * from './queue.module';
export * from './heartbeat';
