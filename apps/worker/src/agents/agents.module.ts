import { Module } from '@nestjs/common';
import { RunsModule } from '@nso/runs';
import { AgentTaskTimeoutsConsumer } from './agent-task-timeouts.consumer';

/** The worker's share of HTTP agents' tasks: failing those whose results never came. */
@Module({ imports: [RunsModule], providers: [AgentTaskTimeoutsConsumer] })
export class AgentsModule {}
