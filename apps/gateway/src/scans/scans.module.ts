import { Module } from '@nestjs/common';
import { NmapModule } from '@nso/nmap';
import { RunsModule } from '@nso/runs';
import { AuthModule } from '../auth/auth.module';
import { ProjectsModule } from '../projects/projects.module';
import { StreamModule } from '../stream/stream.module';
import { ExpectedPortsController } from './expected-ports.controller';
import { ExpectedPortsService } from './expected-ports.service';
import { ScanDefinitionsController } from './scan-definitions.controller';
import { ScanDefinitionsService } from './scan-definitions.service';
import { ScanEventsGateway } from './scan-events.gateway';
import { ScanEventsService } from './scan-events.service';
import { ScansController } from './scans.controller';
import { ScansService } from './scans.service';
import { SchedulePreviewController } from './schedule-preview.controller';

@Module({
  imports: [NmapModule, RunsModule, ProjectsModule, AuthModule, StreamModule],
  controllers: [
    ScansController,
    ScanDefinitionsController,
    SchedulePreviewController,
    ExpectedPortsController,
  ],
  providers: [
    ScansService,
    ScanDefinitionsService,
    ScanEventsService,
    ScanEventsGateway,
    ExpectedPortsService,
  ],
})
export class ScansModule {}
