// @nso/persistence: the only door to the database. Repositories (each the only writer of its tables) and
// read-model query classes, provided by PersistenceModule; the entities as types of the rows they return, and the
// value lists of their enum columns. MikroORM, its EntityManager and knex stay inside (eslint.config.mjs forbids
// them elsewhere); tests and benchmarks use @nso/persistence/testing.
export {
  AGENT_TASK_STATUSES,
  BATCH_STATUSES,
  CLIENT_KINDS,
  CLIENT_STATUSES,
  DELTA_CHANGE_KIND_VALUES,
  DELTA_REPORT_STATUSES,
  DELTA_REPORT_TYPES,
  SCAN_RESULT_STATUSES,
  RUN_TRIGGERS,
  SCAN_RUNNERS,
  FIRE_OUTCOMES,
  USER_ROLES,
  WEBHOOK_KINDS,
  WEBHOOK_PROTOCOLS,
  WEBHOOK_EXPOSURES,
} from './entities';
export type {
  AgentTaskStatus,
  AgentTask,
  ApiToken,
  BatchStatus,
  Batch,
  ClientKind,
  ClientStatus,
  Client,
  DeltaChange,
  DeltaReportStatus,
  DeltaReportType,
  DeltaReport,
  HostnameEntry,
  Host,
  Port,
  Project,
  ScanResultStatus,
  RunTrigger,
  ScanResult,
  ScanRunner,
  Scan,
  FireOutcome,
  ScheduleFire,
  UserRole,
  User,
  WebhookDelivery,
  WebhookKind,
  WebhookExposure,
  WebhookFilter,
  WebhookRule,
} from './entities';
export { MIGRATIONS } from './migrations';
export {
  createOrmOptions,
  parseDatabaseUrl,
  MIGRATIONS_TABLE,
  type OrmOptionsInput,
  type DatabaseTarget,
} from './orm-options';
export { runMigrations, schemaDrift } from './migrate';
export { DatabaseHealth } from './health';
export { isDuplicateError, isNotFoundError } from './errors';
export { isDatabaseError, logSafeError, safeErrorMessage, withoutStatement } from './log-safe-error';
export * from './batch.repository';
export * from './batch-split.repository';
export {
  RunRepository,
  allBatchesFailed,
  type CompletedRun,
  type ImportedRunInput,
  type OneOffScanInput,
  type RunInput,
} from './run.repository';
export {
  DuplicateFireError,
  SCAN_RUN_STATES,
  ScanRepository,
  type FireInput,
  type NewScanDefinition,
  type ScanDefinitionFields,
  type ScanDefinitionPatch,
  type ScanEventSeqBlock,
  type ScanListQuery,
  type ScanRunState,
} from './scan.repository';
export {
  RunQueries,
  type RowWindow,
  type RunHostFilter,
  type RunSummaryRows,
  type ScanRunCounts,
} from './run.queries';
export {
  ClientRepository,
  type AgentEndpoint,
  type ClientListFilter,
  type ClientPatch,
  type DelegableClientRow,
  type PoolBeat,
  type PoolRegistration,
} from './client.repository';
export { AgentTaskRepository, OPEN_AGENT_TASK_STATUSES, type AgentTaskInput } from './agent-task.repository';
export {
  WebhookRepository,
  type DeliverableReport,
  type DeliverableRule,
  type WebhookChangeKey,
  type WebhookChangeRow,
  type WebhookDeliveryLogRow,
  type WebhookDeliveryRow,
  type WebhookRuleInput,
  type WebhookRulePatch,
} from './webhook.repository';
export { PersistenceModule, DATABASE_READY, type PersistenceModuleOptions } from './persistence.module';
export { clientStatus, clientStatusFilter, type ClientStatusFields } from './client-status';
export {
  DeltaReportRepository,
  DELTA_CHANGE_BATCH,
  type DeltaReportInsert,
  type DeltaChangeInsert,
  type DeltaReportCountColumns,
  type StoredDeltaReport,
  COUNT_OF_KIND,
  type ChangeToVerify,
  type ChangeVerdict,
  type ConfirmedCounts,
} from './delta-report.repository';
export {
  DeltaReportQueries,
  DELTA_CHANGE_PAGE,
  type ChangeAcceptanceRecord,
  type DeltaChangeRecord,
  type DeltaReportFilter,
  type DeltaReportRecord,
  type DeltaReportTotals,
} from './delta-report.queries';
export {
  RunHistoryQueries,
  type RunContents,
  type RunFacts,
  type RunHostRecord,
  type RunPortRecord,
  type RunObservation,
  type TrustSettings,
} from './run-history.queries';
export { ExposureQueries, type JudgedRunRecord } from './exposure.queries';
export {
  AssetQueries,
  type AssetPortRow,
  type AssetRun,
  type AssetSighting,
  type ScanHostSummary,
} from './asset.queries';
export { UserRepository, type TokenOwner, type UserInput } from './user.repository';
export { ProjectRepository } from './project.repository';
export { StatsQueries, type ActiveRunBatches, type RunScope } from './stats.queries';
export {
  MetricsQueries,
  type ApprovedClientRow,
  type RunProgressRow,
  type StatusCounts,
} from './metrics.queries';
