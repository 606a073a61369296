// What tests and benchmarks may use beside the public API of this library: the entities, the raw knex of a
// connection, and row factories, to seed and read back rows. Never imported by apps/ or libs/ (eslint.config.mjs).
export * from '..';
// Named, so that they shadow the type-only exports of the public index.
export {
  AgentTask,
  ApiToken,
  Batch,
  Client,
  DeltaChange,
  DeltaReport,
  Host,
  Port,
  Project,
  ScanResult,
  Scan,
  ScheduleFire,
  User,
  WebhookDelivery,
  WebhookRule,
  ENTITIES,
} from '../entities';
export { knexOf, type Knex } from '../sql';
export * from './factories';
export { insertDeltaReport } from '../delta-report.repository';
