// TCP listeners on chosen loopback addresses: the open ports that tests and benchmarks scan.
import { AddressInfo, createServer, Server } from 'node:net';

export interface Listener {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function listenOn(host: string, port = 0, banner?: string): Promise<Listener> {
  const server: Server = createServer((socket) => {
    if (banner) socket.write(banner);
    socket.on('error', () => undefined);
    socket.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host,
    port: address.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
