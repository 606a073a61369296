import { Module } from '@nestjs/common';
import { RunsModule } from '@nso/runs';
import { ScheduleFiresConsumer } from './schedule-fires.consumer';

/** The worker's share of recurring scans: taking schedule fires off their queue. */
@Module({ imports: [RunsModule], providers: [ScheduleFiresConsumer] })
export class SchedulesModule {}
