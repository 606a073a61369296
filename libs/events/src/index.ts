export * from './redis-connection';
export * from './redis.module';
export * from './queue.module';
export * from './heartbeat';
export * from './scan-event-publisher';
export * from './scan-event-log';
export * from './scan-event-hub';
export * from './scan-events.module';
