import { Module } from '@nestjs/common';
import { RunsModule } from '@nso/runs';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';

@Module({ imports: [RunsModule], controllers: [HealthController], providers: [HealthService] })
export class HealthModule {}
