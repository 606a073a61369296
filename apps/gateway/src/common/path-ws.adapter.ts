// Nest's WsAdapter matches a gateway's path exactly; /ws/scans/:scanId needs a parameter in the path.
import { WsAdapter } from '@nestjs/platform-ws';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';

type PathServer = WebSocketServer & { path: string; pattern?: RegExp };

export function pathPattern(path: string): RegExp {
  const escaped = path
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

export class PathWsAdapter extends WsAdapter {
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
    httpServer.on('upgrade', (request, socket: Duplex, head: Buffer) => {
      const pathname = new URL(request.url ?? '/', 'ws://localhost').pathname;
      const servers = (this.wsServersRegistry.get(port) ?? []) as unknown as PathServer[];
      const server = servers.find((candidate) => candidate.pattern?.test(pathname));
      if (!server) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      server.handleUpgrade(request, socket, head, (ws) => server.emit('connection', ws, request));
    });
    return httpServer;
  }
}
