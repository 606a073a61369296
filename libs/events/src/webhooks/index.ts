export * from './webhook-filter';
export * from './webhook-signature';
export * from './webhook-destination';
export * from './webhook-jobs';
export * from './webhook-payload';
