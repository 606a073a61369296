// Nest's WsAdapter matches a gateway's path exactly; /ws/scans/:scanId needs a parameter in the path.
//
// The `upgrade` listener is a raw listener of the HTTP server: Nest's exception filters do not cover it, and
// anything it throws (or an `error` event of the socket, which Node stops handling once a request upgrades)
// ends the process. So it answers every request it cannot serve with a plain HTTP error and never throws.
import { Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { upgradeHostServed } from './host-names';

type PathServer = WebSocketServer & { path: string; pattern?: RegExp };

export function pathPattern(path: string): RegExp {
  const escaped = path
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

/**
 * The path of an upgrade request's target, or undefined when it is not an origin-form target ("/path?query")
 * that the URL parser reads (such as `//[`, `*`, or an absolute URL to some other host).
 */
export function upgradePath(target: string | undefined): string | undefined {
  if (!target || !target.startsWith('/') || target.startsWith('//')) return undefined;
  try {
    return new URL(target, 'ws://localhost').pathname;
  } catch {
    return undefined;
  }
}

/** Ends a socket that will not be upgraded with a bodyless HTTP answer, e.g. `400 Bad Request`. */
export function refuseUpgrade(socket: Duplex, status: string): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export class PathWsAdapter extends WsAdapter {
  private readonly upgradeLogger = new Logger('WebSocketUpgrade');

  /**
   * `servedHost`: whether an upgrade's Host names this gateway (servedHostCheck); a refused one is answered
   * `421 Misdirected Request`, as the HTTP routes answer it. Undefined: every Host is served.
   */
  constructor(
    app: ConstructorParameters<typeof WsAdapter>[0],
    private readonly servedHost?: (host: string | undefined) => boolean,
  ) {
    super(app);
  }

  protected override addWsServerToRegistry<T extends Record<'path', string> = Record<'path', string>>(
    wsServer: T,
    port: number,
    path: string,
  ): void {
    super.addWsServerToRegistry(wsServer, port, path);
    (wsServer as unknown as PathServer).pattern = pathPattern((wsServer as unknown as PathServer).path);
  }

  protected override ensureHttpServerExists(port: number, httpServer?: Server): Server | undefined {
    if (this.httpServersRegistry.has(port) || !httpServer)
      return super.ensureHttpServerExists(port, httpServer);
    this.httpServersRegistry.set(port, httpServer);
    httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      // A client that resets the connection mid-handshake emits `error` on a socket nobody else listens to now.
      socket.on('error', () => socket.destroy());
      try {
        this.upgrade(port, request, socket, head);
      } catch (error) {
        this.upgradeLogger.warn(`refused an upgrade that failed: ${(error as Error).message}`);
        refuseUpgrade(socket, '400 Bad Request');
      }
    });
    return httpServer;
  }

  private upgrade(port: number, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!upgradeHostServed(this.servedHost, request)) return refuseUpgrade(socket, '421 Misdirected Request');
    const pathname = upgradePath(request.url);
    if (pathname === undefined) return refuseUpgrade(socket, '400 Bad Request');
    const servers = (this.wsServersRegistry.get(port) ?? []) as unknown as PathServer[];
    const server = servers.find((candidate) => candidate.pattern?.test(pathname));
    if (!server) return refuseUpgrade(socket, '404 Not Found');
    // ws answers a malformed handshake (key, version, method) with 400 itself.
    server.handleUpgrade(request, socket, head, (ws) => {
      try {
        server.emit('connection', ws, request);
      } catch (error) {
        // The socket speaks WebSocket now: end it as one (1011: the server met an unexpected condition).
        this.upgradeLogger.error(`a WebSocket connection handler threw: ${(error as Error).message}`);
        ws.close(1011, 'Internal error');
      }
    });
  }
}
