import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Plumbing shared by the local stack's small HTTP servers. */

/** Closes a server without waiting on idle keep-alive sockets. */
export const closeServer = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** Starts a local server (port 0 picks a free one) and returns its port and its close. */
export const listen = async (server: Server, port: number, host: string): Promise<{ port: number; close: () => Promise<void> }> => {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { port: (server.address() as AddressInfo).port, close: () => closeServer(server) };
};

export const MAX_BODY_BYTES = 64 * 1024;

/** The request body as text, or undefined when it is over MAX_BODY_BYTES (read to the end, kept no further). */
export const readBody = (req: IncomingMessage): Promise<string | undefined> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
