import { Module } from '@nestjs/common';
import { NmapModule } from '@nso/nmap';
import { RunsModule } from '@nso/runs';
import { ClientEnrolmentLimit } from './client-enrolment.limit';
import { ClientsController } from './clients.controller';
import { ClientsService } from './clients.service';

@Module({
  imports: [NmapModule, RunsModule],
  controllers: [ClientsController],
  providers: [ClientsService, ClientEnrolmentLimit],
  exports: [ClientsService],
})
export class ClientsModule {}
