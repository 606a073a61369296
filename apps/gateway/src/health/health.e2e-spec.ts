import { MikroORM } from '@mikro-orm/core';
import { REDIS_CLIENT } from '@nso/events';
import Redis from 'ioredis';
import request from 'supertest';
import { startGateway, TestGateway } from '../../../../test/support/gateway';

describe('GET /api/health', () => {
  let gateway: TestGateway | undefined;
  afterEach(() => gateway?.close());

  it('is 200 and healthy when Redis and the database answer; not ready while no approved client is online', async () => {
    gateway = await startGateway({ localPool: false });
    const response = await request(gateway.url).get('/api/health').expect(200);
    expect(response.body).toEqual({
      status: 'healthy',
      ready: false,
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      version: expect.any(String),
      checks: { database: true, redis: true, approved_client_online: false },
      stats: { active_clients: 0, pending_tasks: 0, running_tasks: 0 },
    });
  });

  it('is ready once an approved client is online', async () => {
    gateway = await startGateway();
    const response = await request(gateway.url).get('/api/health').expect(200);
    expect(response.body).toMatchObject({
      status: 'healthy',
      ready: true,
      checks: { database: true, redis: true, approved_client_online: true },
      stats: { active_clients: 1 },
    });
  });

  it('is 503 and names the failed check when Redis does not answer', async () => {
    gateway = await startGateway();
    gateway.app.get<Redis>(REDIS_CLIENT).disconnect();
    const response = await request(gateway.url).get('/api/health').expect(503);
    expect(response.body).toMatchObject({ status: 'unhealthy', checks: { database: true, redis: false } });
  });

  it('is 503 and names the failed check when the database does not answer', async () => {
    gateway = await startGateway({ database: 'postgresql' });
    await gateway.app.get(MikroORM).close(true);
    const response = await request(gateway.url).get('/api/health').expect(503);
    expect(response.body).toMatchObject({ status: 'unhealthy', checks: { database: false, redis: true } });
  });

  it('serves the OpenAPI document built from the DTOs', async () => {
    gateway = await startGateway();
    const response = await request(gateway.url).get('/api/docs-json').expect(200);
    expect(Object.keys(response.body.paths)).toEqual(
      expect.arrayContaining(['/api/projects', '/api/nmap/run', '/api/health']),
    );
    expect(response.body.components.schemas.NmapRunDto.required).toEqual(['nmap_flags', 'targets']);
    // The progress of GET /api/results/{id} and the `progress` event of the WebSocket and SSE (issue 20).
    const schemas = response.body.components.schemas;
    expect(Object.keys(schemas.RunProgressWithBatchesDto.properties)).toEqual(
      expect.arrayContaining(['percent', 'hosts_done', 'hosts_total', 'eta_seconds', 'running_batches']),
    );
    expect(Object.keys(schemas.ProgressEventDto.properties)).toEqual(
      expect.arrayContaining(['event', 'batch_id', 'batch', 'percent', 'eta_seconds']),
    );
    // Swagger UI's "Authorize" must send a credential: both schemes, required document-wide (either one).
    expect(response.body.security).toEqual([{ bearer: [] }, { cookie: [] }]);
    expect(response.body.components.securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
      cookie: { type: 'apiKey', in: 'cookie', name: 'nso_session' },
    });
    // Last-Event-ID is optional, and documented once (not also as a required `last-event-id`).
    for (const path of ['/api/stream', '/api/scans/{scanId}/events']) {
      const headers = response.body.paths[path].get.parameters.filter(
        (p: { in: string }) => p.in === 'header',
      );
      expect(headers).toEqual([expect.objectContaining({ name: 'Last-Event-ID', required: false })]);
    }
    expect(response.body.paths['/api/scans/{scanId}/results/import'].post.requestBody.required).toBe(true);
  });

  it('documents every HTTP route the gateway serves, with its methods', async () => {
    gateway = await startGateway();
    const document = (await request(gateway.url).get('/api/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const express = gateway.app.getHttpAdapter().getInstance() as {
      router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
    };
    const served = express.router.stack
      .filter((layer) => layer.route && !layer.route.path.startsWith('/api/docs'))
      // Nest's catch-all that answers 404 for unknown paths is not a route of the API.
      .filter((layer) => !layer.route!.path.includes('{*'))
      .flatMap((layer) =>
        Object.keys(layer.route!.methods).map(
          (method) => `${method} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`,
        ),
      );
    const documented = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method} ${path}`),
    );
    expect(served.length).toBeGreaterThan(30);
    expect(served.filter((route) => !documented.includes(route))).toEqual([]);
  });
});
