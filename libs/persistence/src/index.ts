export * from './entities';
export { MIGRATIONS } from './migrations';
export {
  createOrmOptions,
  parseDatabaseUrl,
  MIGRATIONS_TABLE,
  type OrmOptionsInput,
  type DatabaseTarget,
} from './orm-options';
export { runMigrations, schemaDrift } from './migrate';
export { checkDatabase } from './health';
export { logSafeError } from './log-safe-error';
export * from './batch-result.store';
export { startBatch, markBatchFailed, type BatchStart, type BatchStartInput } from './batch-lifecycle';
export { PersistenceModule, DATABASE_READY, type PersistenceModuleOptions } from './persistence.module';
export { knexOf, isUniqueViolation, type Knex } from './sql';
export {
  DuplicateFireError,
  insertOneOffScan,
  insertRun,
  recordSkippedFire,
  type FireInput,
  type OneOffScanInput,
  type RunInput,
} from './scan-records';
export { reserveScanEventSeqs, type ScanEventSeqBlock } from './scan-event-seqs';
