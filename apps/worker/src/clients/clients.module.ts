import { Module } from '@nestjs/common';
import { RunsModule } from '@nso/runs';
import { WorkerPoolRegistration } from './worker-pool.registration';

/** This worker's pool as a scanner client (docs/clients.md). */
@Module({ imports: [RunsModule], providers: [WorkerPoolRegistration] })
export class WorkerClientsModule {}
