// Serves a process's Prometheus metrics on a port of their own (METRICS_PORT, METRICS_HOST), apart from the API:
// the API port faces users, the metrics port only the scraper. Off when METRICS_PORT is 0 (the default).
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { hostHeaderName, isLoopbackHost, namesThisMachine } from '@nso/config';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Metrics } from './metrics';

export const METRICS_SERVER_OPTIONS = Symbol('METRICS_SERVER_OPTIONS');

export interface MetricsServerOptions {
  /** 0: no metrics server. */
  port: number;
  host: string;
}

/**
 * `GET /metrics` → 200 text/plain exposition; anything else 404. Listening on loopback (the default), it answers
 * only Host names of this machine (`localhost`, `*.localhost`, an IP address) and 421 to any other, so that a page
 * of another site whose name is rebound to 127.0.0.1 cannot read the metrics (DNS rebinding, as the gateway).
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MetricsServer.name);
  private server?: Server;

  constructor(
    private readonly metrics: Metrics,
    @Inject(METRICS_SERVER_OPTIONS) private readonly options: MetricsServerOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.port === 0) return;
    const server = createServer((req, res) => {
      if (!this.served(req)) {
        res.writeHead(421, { 'content-type': 'text/plain' }).end('Host is not a name of this machine\n');
        return;
      }
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.metrics.scrape().then(
        (text) => res.writeHead(200, { 'content-type': this.metrics.contentType }).end(text),
        (error: Error) => res.writeHead(500).end(error.message),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    this.logger.log(`metrics on http://${this.options.host}:${address.port}/metrics`);
  }

  /** Whether the request's Host may be answered: any, unless the server listens on loopback (see the class). */
  private served(req: IncomingMessage): boolean {
    const host = req.headers.host;
    if (host === undefined || !isLoopbackHost(this.options.host)) return true;
    const name = hostHeaderName(host);
    return name !== undefined && namesThisMachine(name);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
