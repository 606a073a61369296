import { INestApplication } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { refuseUnservedHosts, servedHostCheck } from './common/host-names';
import { PathWsAdapter } from './common/path-ws.adapter';
import { rerouteUndecodablePath } from './common/undecodable-path';
import { createValidationPipe } from './common/validation';
import { mountWebUi } from './web/web-ui';

/** Everything main.ts and the integration tests both apply to the HTTP application. */
export function configureApp(app: INestApplication): INestApplication {
  const express = app as NestExpressApplication;
  express.disable('x-powered-by');
  const config = app.get<AppConfig>(APP_CONFIG);
  express.set('trust proxy', config.trustProxy);
  // First: a rebound name (DNS rebinding) is refused before any route, session or body is looked at.
  express.use(refuseUnservedHosts(config));
  // Before Nest's router, whose route matching would refuse an undecodable path ahead of the rate limiter.
  express.use(rerouteUndecodablePath);
  // Before anything Nest registers at init(): page loads skip the session lookup and the rate limit.
  mountWebUi(express, config.webDistDir);
  // Bodies are parsed by BodyParserMiddleware (AppModule), after the rate limiter has counted the request.
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useWebSocketAdapter(new PathWsAdapter(app, servedHostCheck(config)));

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('NetScanOrchestrator')
      .setDescription('Distributed nmap scanning with live output and change reports')
      .setVersion(process.env.npm_package_version ?? '0.1.0')
      // Either credential on every route (the public ones ignore it): an API token from POST /api/tokens
      // (`nso_…`, opaque), or the session cookie of POST /auth/login.
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'API token (`nso_…`) from POST /api/tokens' },
        'bearer',
      )
      .addCookieAuth('nso_session', { type: 'apiKey', in: 'cookie', name: 'nso_session' }, 'cookie')
      .addSecurityRequirements('bearer')
      .addSecurityRequirements('cookie')
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
  return app;
}
