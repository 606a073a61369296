import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { closeOnSignals, processLogger } from '@nso/bootstrap';
import { loadConfigOrExit } from '@nso/config';
import { DeltaModule } from './delta.module';

// The delta service diffs completed runs against their baseline; it has no HTTP server of its own.
async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await NestFactory.createApplicationContext(DeltaModule.forRoot(config), {
    logger: processLogger(config),
  });
  closeOnSignals(app, 'Delta');
  await app.init();
  Logger.log('delta service ready', 'Delta');
}

void bootstrap();
