import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { closeOnSignals, processLogger } from '@nso/bootstrap';
import { loadConfigOrExit } from '@nso/config';
import { AppModule } from './app.module';
import { configureApp } from './configure-app';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await NestFactory.create(AppModule.forRoot(config), {
    bodyParser: false,
    logger: processLogger(config),
  });
  configureApp(app);
  closeOnSignals(app, 'Gateway');
  await app.listen(config.port, config.host);
  Logger.log(`API listening on ${await app.getUrl()}/api (docs at /api/docs)`, 'Gateway');
}

void bootstrap();
