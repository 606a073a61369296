import { BeforeApplicationShutdown, Inject, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import { ConnectedEvent } from '@nso/contracts';
import { ScanEventHub } from '@nso/events';
import { Metrics } from '@nso/monitoring';
import { logSafeError } from '@nso/persistence';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { SameOriginPolicy } from '../auth/same-origin';
import { CredentialWatch } from '../stream/credential-watch';
import { parseId } from '../common/parse-id.pipe';
import { CurrentUserResolver } from '../users/current-user.resolver';
import { sendScanEvents } from './scan-event-wire';
import { sinceProblem } from './scans.controller';
import { ScansService } from './scans.service';

/** Close codes of /ws/scans/:scanId (4000-4999 is the application range). */
export const WS_CLOSE = {
  badRequest: { code: 4400, reason: 'Bad request' },
  unauthenticated: { code: 4401, reason: 'Authentication required' },
  crossSite: { code: 4403, reason: 'Cross-site WebSocket refused' },
  notFound: { code: 4404, reason: 'Scan not found' },
  tooSlow: { code: 4408, reason: 'Client too slow' },
  internal: { code: 1011, reason: 'Internal error' },
  goingAway: { code: 1001, reason: 'Server shutting down' },
} as const;

/** `ws://host/ws/scans/{scan_id}[?since=<seq>]`: one-way stream of a scan's events, every run of it. */
// No permessage-deflate: a batch's frames are made once for every subscriber, uncompressed (scan-event-wire.ts).
@WebSocketGateway({ path: '/ws/scans/:scanId', perMessageDeflate: false })
export class ScanEventsGateway implements OnGatewayConnection, BeforeApplicationShutdown {
  private readonly logger = new Logger(ScanEventsGateway.name);
  private readonly clients = new Set<WebSocket>();

  constructor(
    private readonly scans: ScansService,
    private readonly hub: ScanEventHub,
    private readonly users: CurrentUserResolver,
    private readonly origins: SameOriginPolicy,
    private readonly credentials: CredentialWatch,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** A clean close (1001 Going Away) rather than a dropped connection, so clients reconnect and resume. */
  beforeApplicationShutdown(): void {
    for (const client of this.clients) client.close(WS_CLOSE.goingAway.code, WS_CLOSE.goingAway.reason);
  }

  /**
   * Runs outside Nest's exception filters (a connection event, not a request): an error here would be an
   * unhandled rejection, which ends the process. So every failure closes this client instead: 1011 for the
   * unexpected, the 44xx codes of WS_CLOSE for the client's own mistakes.
   */
  async handleConnection(client: WebSocket, request: IncomingMessage): Promise<void> {
    try {
      await this.serve(client, request);
    } catch (error) {
      this.logger.error(`WebSocket subscriber failed: ${logSafeError(error)}`);
      if (client.readyState === client.OPEN || client.readyState === client.CONNECTING) {
        client.close(WS_CLOSE.internal.code, WS_CLOSE.internal.reason);
      }
    }
  }

  private async serve(client: WebSocket, request: IncomingMessage): Promise<void> {
    this.clients.add(client);
    this.metrics.subscribers.inc({ transport: 'websocket' });
    client.once('close', () => {
      this.clients.delete(client);
      this.metrics.subscribers.dec({ transport: 'websocket' });
    });
    const url = new URL(request.url ?? '/', 'http://localhost');
    const scanId = parseId(decodePathSegment(url.pathname.split('/').pop()));
    const since = url.searchParams.get('since') ?? '0';
    // The reason names what is wrong, in the words of the REST and SSE answers (400) to the same mistakes.
    if (scanId === undefined) {
      return client.close(WS_CLOSE.badRequest.code, 'scan_id must be a positive integer');
    }
    const sinceRefused = sinceProblem(since);
    if (sinceRefused) return client.close(WS_CLOSE.badRequest.code, sinceRefused);
    const { user, method, sessionId, tokenDigest } = await this.users.resolve(request);
    if (!user) return client.close(WS_CLOSE.unauthenticated.code, WS_CLOSE.unauthenticated.reason);
    // Browsers attach cookies to cross-site WebSocket handshakes too (no SameSite for them), so check Origin.
    if (method === 'session' && this.origins.isCrossSite(request)) {
      return client.close(WS_CLOSE.crossSite.code, WS_CLOSE.crossSite.reason);
    }
    try {
      await this.scans.findOwned(user.id, scanId);
    } catch {
      return client.close(WS_CLOSE.notFound.code, WS_CLOSE.notFound.reason);
    }
    // The stream ends with its session or token (logout, revocation, expiry), as /api/stream does.
    const unwatch = await this.credentials.watch({ sessionId, tokenDigest }, () =>
      client.close(WS_CLOSE.unauthenticated.code, WS_CLOSE.unauthenticated.reason),
    );
    client.once('close', unwatch);
    if (client.readyState !== client.OPEN) return unwatch();
    const connected: ConnectedEvent = { event: 'connected', scan_id: scanId };
    client.send(JSON.stringify(connected));
    let closed = false;
    client.once('close', () => (closed = true));
    // The connection ws speaks on (the upgraded request's socket): one write of ws-made frames per batch.
    const socket = request.socket;
    const delivered = this.metrics.scanEventsDelivered.labels({ transport: 'websocket' });
    const maxBuffered = this.config.subscriberMaxBufferedBytes;
    let dropped = false;
    // The subscription once subscribe() resolved (a drop during the replay closes it then).
    const live: { close?: () => void } = {};
    const subscription = await this.hub.subscribe(scanId, { afterSeq: Number(since) }, (events) => {
      if (dropped || client.readyState !== client.OPEN) return;
      if (client.bufferedAmount > maxBuffered) {
        // Not buffered without bound: no more events for it; the close frame goes out behind what it has not
        // read, and ws ends the connection if the closing handshake is not done in 30 s. The client resumes with
        // ?since=<the last seq it read> (what the log still holds).
        dropped = true;
        live.close?.();
        this.metrics.subscribersDropped.inc({ transport: 'websocket' });
        this.logger.warn(
          `WebSocket subscriber of scan ${scanId} dropped: more than ${maxBuffered} bytes unsent`,
        );
        return client.close(WS_CLOSE.tooSlow.code, WS_CLOSE.tooSlow.reason);
      }
      sendScanEvents(client, socket, events);
      delivered.inc(events.length);
    });
    live.close = () => subscription.close();
    if (closed || dropped) return subscription.close();
    client.once('close', () => subscription.close());
    this.logger.debug(`subscriber on scan ${scanId} since ${since}`);
  }
}

/** A path segment with its %-escapes decoded, as Express decodes REST path parameters; undefined if malformed. */
function decodePathSegment(segment: string | undefined): string | undefined {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
