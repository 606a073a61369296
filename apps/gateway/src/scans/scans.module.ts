import { Module } from '@nestjs/common';
import { NmapModule } from '@nso/nmap';
import { RunsModule } from '@nso/runs';
import { AuthModule } from '../auth/auth.module';
import { ProjectsModule } from '../projects/projects.module';
import { ScanEventsGateway } from './scan-events.gateway';
import { ScanEventsService } from './scan-events.service';
import { ScansController } from './scans.controller';
import { ScansService } from './scans.service';

@Module({
  imports: [NmapModule, RunsModule, ProjectsModule, AuthModule],
  controllers: [ScansController],
  providers: [ScansService, ScanEventsService, ScanEventsGateway],
})
export class ScansModule {}
