// Webhooks on delta reports (docs/notifications.md "Webhooks"): what every process shares — the destination
// allow-list, the filters, the payload, the signature, and the queueing of deliveries. The rules API is
// apps/gateway/src/webhooks, the deliveries apps/worker/src/webhooks; their rows are WebhookRepository's.
export * from './webhook-filter';
export * from './webhook-signature';
export * from './webhook-destination';
export * from './webhook-jobs';
export * from './webhook-jobs.module';
export * from './webhook-payload';
