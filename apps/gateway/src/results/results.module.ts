import { Module } from '@nestjs/common';
import { RunsModule } from '@nso/runs';
import { ResultsController } from './results.controller';
import { ResultsService } from './results.service';

@Module({ imports: [RunsModule], controllers: [ResultsController], providers: [ResultsService] })
export class ResultsModule {}
