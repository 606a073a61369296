import { Module } from '@nestjs/common';
import { ResultsController } from './results.controller';
import { ResultsService } from './results.service';
import { RunSummaries } from './run-summary';

@Module({
  controllers: [ResultsController],
  providers: [ResultsService, RunSummaries],
  exports: [RunSummaries],
})
export class ResultsModule {}
