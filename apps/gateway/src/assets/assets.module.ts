import { Module } from '@nestjs/common';
import { AssetsController } from './assets.controller';
import { AssetsService } from './assets.service';

/** Assets over time (issue 21): a host, a scan's hosts and a port's history across runs. */
@Module({
  controllers: [AssetsController],
  providers: [AssetsService],
})
export class AssetsModule {}
