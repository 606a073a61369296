import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { AppConfig, ConfigModule } from '@nso/config';
import { QueueModule, RedisModule, ScanEventsModule } from '@nso/events';
import { PersistenceModule } from '@nso/persistence';
import { AuthModule } from './auth/auth.module';
import { HealthModule } from './health/health.module';
import { NmapRunModule } from './nmap/nmap-run.module';
import { ProjectsModule } from './projects/projects.module';
import { RateLimitMiddleware } from './rate-limit/rate-limit.middleware';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { ScansModule } from './scans/scans.module';
import { TokensModule } from './tokens/tokens.module';
import { CurrentUserMiddleware } from './users/current-user.middleware';
import { UsersModule } from './users/users.module';

@Module({})
export class AppModule implements NestModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        RedisModule.forRoot({ url: config.redisUrl, prefix: config.redisPrefix }),
        QueueModule.forRoot({ url: config.redisUrl, prefix: config.redisPrefix }),
        PersistenceModule.forRoot({
          databaseUrl: config.databaseUrl,
          schema: config.databaseSchema,
          poolMax: config.databasePoolMax,
          migrate: true,
        }),
        ScanEventsModule.forRoot({ maxLength: config.eventLogMax }),
        UsersModule,
        RateLimitModule,
        AuthModule,
        TokensModule,
        HealthModule,
        ProjectsModule,
        NmapRunModule,
        ScansModule,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    // Who is asking decides which rate limit applies, so identity is resolved first.
    consumer.apply(CurrentUserMiddleware, RateLimitMiddleware).forRoutes('*');
  }
}
