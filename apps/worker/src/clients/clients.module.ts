import { Module } from '@nestjs/common';
import { WorkerPoolRegistration } from './worker-pool.registration';

/** This worker's pool as a scanner client (docs/clients.md). */
@Module({ providers: [WorkerPoolRegistration] })
export class WorkerClientsModule {}
