// @nso/monitoring: the process's Prometheus metrics (prom-client) and the server that exposes them.
export * from './metrics';
export * from './metrics-server';
export * from './monitoring.module';
export * from './settled-within';
