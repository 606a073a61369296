import { Module } from '@nestjs/common';
import { NmapModule } from '@nso/nmap';
import { RunsModule } from '@nso/runs';
import { ResultsModule } from '../results/results.module';
import { AgentFieldsMetric } from './agent-fields';
import { ClientEnrolmentLimit } from './client-enrolment.limit';
import { ClientsController } from './clients.controller';
import { ClientsService } from './clients.service';

@Module({
  imports: [NmapModule, RunsModule, ResultsModule],
  controllers: [ClientsController],
  providers: [ClientsService, ClientEnrolmentLimit, AgentFieldsMetric],
  exports: [ClientsService],
})
export class ClientsModule {}
