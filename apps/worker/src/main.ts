import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { closeOnSignals, processLogger } from '@nso/bootstrap';
import { loadConfigOrExit } from '@nso/config';
import { WorkerModule } from './worker.module';

// A worker is an application context without an HTTP server: it consumes batches and runs nmap.
async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
    logger: processLogger(config),
  });
  closeOnSignals(app, 'Worker');
  await app.init();
  Logger.log(
    `worker ${config.workerId} ready (concurrency ${config.workerConcurrency}, pool ${config.workerClientId})`,
    'Worker',
  );
}

void bootstrap();
