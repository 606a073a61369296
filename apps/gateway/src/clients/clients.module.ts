import { Module } from '@nestjs/common';
import { NmapModule } from '@nso/nmap';
import { ClientEnrolmentLimit } from './client-enrolment.limit';
import { ClientsController } from './clients.controller';
import { ClientsService } from './clients.service';

@Module({
  imports: [NmapModule],
  controllers: [ClientsController],
  providers: [ClientsService, ClientEnrolmentLimit],
  exports: [ClientsService],
})
export class ClientsModule {}
