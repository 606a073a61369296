// What tests and benchmarks may use beside the public API of this library: the entities, the raw knex of a
// connection, and row factories, to seed and read back rows. Never imported by apps/ or libs/ (eslint.config.mjs).
export * from '..';
export * from '../entities';
export { knexOf, type Knex } from '../sql';
export * from './factories';
export { insertDeltaReport } from '../delta-report.repository';
