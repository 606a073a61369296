import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { closeOnSignals } from '@nso/bootstrap';
import { enabledLogLevels, loadConfigOrExit } from '@nso/config';
import { WorkerModule } from './worker.module';

// A worker is an application context without an HTTP server: it consumes batches and runs nmap.
async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
    logger: enabledLogLevels(config.logLevel),
  });
  closeOnSignals(app, 'Worker');
  await app.init();
  Logger.log(
    `worker ${config.workerId} ready (concurrency ${config.workerConcurrency}, pool ${config.workerClientId})`,
    'Worker',
  );
}

void bootstrap();
