import { Module } from '@nestjs/common';
import { RunsModule } from '@nso/runs';
import { ResultsController } from './results.controller';
import { ResultsService } from './results.service';
import { RunProgressReader } from './run-progress.view';
import { RunSummaries } from './run-summary';

@Module({
  imports: [RunsModule],
  controllers: [ResultsController],
  providers: [ResultsService, RunSummaries, RunProgressReader],
  exports: [RunSummaries],
})
export class ResultsModule {}
