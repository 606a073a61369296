import { Module } from '@nestjs/common';
import { NmapModule } from '@nso/nmap';
import { NmapRunController } from './nmap-run.controller';
import { NmapRunService } from './nmap-run.service';

@Module({ imports: [NmapModule], controllers: [NmapRunController], providers: [NmapRunService] })
export class NmapRunModule {}
