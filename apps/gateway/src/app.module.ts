import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { infrastructureModules } from '@nso/bootstrap';
import { AppConfig } from '@nso/config';
import { AssetsModule } from './assets/assets.module';
import { AuthModule } from './auth/auth.module';
import { ClientsModule } from './clients/clients.module';
import { BodyParserMiddleware } from './common/json-body';
import { UndecodablePathMiddleware } from './common/undecodable-path';
import { HealthModule } from './health/health.module';
import { NmapRunModule } from './nmap/nmap-run.module';
import { ProjectsModule } from './projects/projects.module';
import { RateLimitMiddleware } from './rate-limit/rate-limit.middleware';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { ReportsModule } from './reports/reports.module';
import { ResultsModule } from './results/results.module';
import { ScansModule } from './scans/scans.module';
import { StatsModule } from './stats/stats.module';
import { StreamModule } from './stream/stream.module';
import { TokensModule } from './tokens/tokens.module';
import { CurrentUserMiddleware } from './users/current-user.middleware';
import { UsersModule } from './users/users.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({})
export class AppModule implements NestModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ...infrastructureModules(config),
        UsersModule,
        RateLimitModule,
        AuthModule,
        TokensModule,
        WebhooksModule,
        HealthModule,
        ProjectsModule,
        NmapRunModule,
        ScansModule,
        ResultsModule,
        ReportsModule,
        AssetsModule,
        ClientsModule,
        StreamModule,
        StatsModule,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    // Who is asking decides which rate limit applies, so identity is resolved first; the body is read only
    // after the request was counted, so a refused body (malformed, too large, undecodable) counts too.
    // An undecodable path is answered (400) right after it was counted (common/undecodable-path.ts).
    consumer
      .apply(CurrentUserMiddleware, RateLimitMiddleware, UndecodablePathMiddleware, BodyParserMiddleware)
      .forRoutes('*');
  }
}
