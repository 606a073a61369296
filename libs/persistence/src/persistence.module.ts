// Nest wiring: one MikroORM for the configured database, repositories for every entity, the run's table
// repositories, and (when asked) the migrations applied before any other provider can touch the database.
import { EntityManager, MikroORM } from '@mikro-orm/core';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { Module, type DynamicModule } from '@nestjs/common';
import { AgentTaskRepository } from './agent-task.repository';
import { AssetQueries } from './asset.queries';
import { BatchRepository } from './batch.repository';
import { BatchSplitRepository } from './batch-split.repository';
import { ClientRepository } from './client.repository';
import { DeltaReportQueries } from './delta-report.queries';
import { DeltaReportRepository } from './delta-report.repository';
import { ENTITIES } from './entities';
import { ExposureQueries } from './exposure.queries';
import { DatabaseHealth } from './health';
import { MetricsQueries } from './metrics.queries';
import { runMigrations } from './migrate';
import { createOrmOptions } from './orm-options';
import { ProjectRepository } from './project.repository';
import { RunHistoryQueries } from './run-history.queries';
import { RunQueries } from './run.queries';
import { RunRepository } from './run.repository';
import { ScanRepository } from './scan.repository';
import { StatsQueries } from './stats.queries';
import { UserRepository } from './user.repository';
import { WebhookRepository } from './webhook.repository';

/** The repositories of the run's tables: each owns its table's status changes. */
const RUN_REPOSITORIES = [
  RunRepository,
  BatchRepository,
  BatchSplitRepository,
  ScanRepository,
  ClientRepository,
  AgentTaskRepository,
  RunQueries,
  WebhookRepository,
];

/** Accounts (users + api_tokens, projects), the read models of stats, metrics and assets, the health check. */
const ACCOUNT_AND_READ_PROVIDERS = [
  UserRepository,
  ProjectRepository,
  StatsQueries,
  MetricsQueries,
  AssetQueries,
  DatabaseHealth,
];

/**
 * The delta reports' repository (the only writer of delta_reports and delta_changes) and their read models, with
 * the read of a scan's exposure against its expected ports.
 */
const DELTA_REPORT_PROVIDERS = [
  DeltaReportRepository,
  DeltaReportQueries,
  RunHistoryQueries,
  ExposureQueries,
];

export interface PersistenceModuleOptions {
  databaseUrl: string;
  /** PostgreSQL only: the schema that holds every table. */
  schema?: string;
  /** Apply pending migrations while the module starts (safe when several processes start at once). */
  migrate?: boolean;
  poolMax?: number;
  debug?: boolean;
}

/**
 * Resolves once the schema is ready (migrated, if `migrate` was set). Providers are all created before any
 * `onModuleInit` hook runs, so hooks may use the database freely; a provider whose factory queries it
 * should inject this token to be created after the migrations.
 */
export const DATABASE_READY = Symbol('DATABASE_READY');

@Module({})
export class PersistenceModule {
  static forRoot(options: PersistenceModuleOptions): DynamicModule {
    const repositories = MikroOrmModule.forFeature(ENTITIES);
    return {
      module: PersistenceModule,
      global: true,
      imports: [
        MikroOrmModule.forRoot(
          createOrmOptions({
            databaseUrl: options.databaseUrl,
            schema: options.schema,
            poolMax: options.poolMax,
            debug: options.debug,
          }),
        ),
        repositories,
      ],
      providers: [
        {
          provide: DATABASE_READY,
          useFactory: async (orm: MikroORM): Promise<true> => {
            if (options.migrate) {
              await runMigrations(orm);
            }
            return true;
          },
          inject: [MikroORM],
        },
        ...RUN_REPOSITORIES.map((provide) => ({
          provide,
          useFactory: (em: EntityManager) => new provide(em),
          inject: [EntityManager, DATABASE_READY],
        })),
        ...ACCOUNT_AND_READ_PROVIDERS.map((provide) => ({
          provide,
          useFactory: (em: EntityManager) => new provide(em),
          inject: [EntityManager, DATABASE_READY],
        })),
        ...DELTA_REPORT_PROVIDERS.map((provide) => ({
          provide,
          useFactory: (em: EntityManager) => new provide(em),
          inject: [EntityManager, DATABASE_READY],
        })),
      ],
      exports: [
        repositories,
        ...RUN_REPOSITORIES,
        ...ACCOUNT_AND_READ_PROVIDERS,
        ...DELTA_REPORT_PROVIDERS,
        DATABASE_READY,
      ],
    };
  }
}
