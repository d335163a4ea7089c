import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts a local server (port 0 picks a free one) and returns its port and a close that does not wait on idle keep-alive sockets. */
export const listen = async (server: Server, port: number, host: string): Promise<{ port: number; close: () => Promise<void> }> => {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
