import { Module } from '@nestjs/common';
import { NmapModule } from '@nso/nmap';
import { RunsModule } from '@nso/runs';
import { ResultsModule } from '../results/results.module';
import { AgentFieldsMetric } from './agent-fields';
import { AgentResultsService } from './agent-results.service';
import { ClientAccess } from './client-access';
import { ClientEnrolmentLimit } from './client-enrolment.limit';
import { ClientsController } from './clients.controller';
import { ClientsService } from './clients.service';

@Module({
  imports: [NmapModule, RunsModule, ResultsModule],
  controllers: [ClientsController],
  providers: [ClientsService, AgentResultsService, ClientAccess, ClientEnrolmentLimit, AgentFieldsMetric],
  exports: [ClientsService],
})
export class ClientsModule {}
