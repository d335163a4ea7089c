import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listen } from '../../local/http-server';

/**
 * A small HTTP proxy put in front of one of the local stand-ins (DynamoDB Local, the SES recorder,
 * the local Twilio endpoint) to break it on purpose, for real: the service under test talks to
 * the proxy as it would to the stand-in, over a socket, and meets a dependency that hangs, is
 * slow, fails or resets the connection. Faults apply to the requests a predicate picks (e.g. only
 * DynamoDB's TransactWriteItems), and to as many of them as asked. Every request that passes
 * through can be observed (its body included), which is how a test reads the codes sent.
 */

export type Fault =
  /** Accept the request and never answer (until the fault is cleared: then the connection is dropped). */
  | { readonly kind: 'hang' }
  /** Forward it after a delay (even when the caller has given up by then: the work is done, the answer lost). */
  | { readonly kind: 'slow'; readonly delayMs: number }
  /** Answer at once with an error status, as an overloaded or broken service does. */
  | { readonly kind: 'fail'; readonly status: number; readonly body?: string; readonly contentType?: string }
  /** Reset the connection (TCP RST) without a byte of answer. */
  | { readonly kind: 'reset' };

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface FaultRule {
  readonly fault: Fault;
  /** Which requests it applies to; all when absent. */
  readonly when?: (request: ProxiedRequest) => boolean;
  /** How many matching requests it applies to; every one when absent. */
  readonly times?: number;
}

export interface FaultProxy {
  readonly url: string;
  /** Breaks the matching requests from now on (replacing any earlier rule). */
  inject(rule: FaultRule): void;
  /** Back to passing everything through; hung requests are dropped. */
  heal(): void;
  /** Requests seen and requests a fault was applied to, since the start. */
  readonly stats: { requests: number; faulted: number };
  /** Calls `listener` with every request that reaches the stand-in (after any delay), body included. */
  observe(listener: (request: ProxiedRequest) => void): void;
  close(): Promise<void>;
}

const readAll = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

export const startFaultProxy = async (targetUrl: string): Promise<FaultProxy> => {
  const target = new URL(targetUrl);
  let rule: (FaultRule & { left: number }) | undefined;
  const hung = new Set<Socket>();
  const listeners: ((request: ProxiedRequest) => void)[] = [];
  const stats = { requests: 0, faulted: 0 };

  const forward = (incoming: ProxiedRequest, res: ServerResponse) => {
    for (const listener of listeners) listener(incoming);
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.path,
        headers: { ...incoming.headers, host: target.host, 'content-length': String(incoming.body.length) },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    // The stand-in itself is gone (killed): the caller sees a reset, as it would talking to it directly.
    upstream.on('error', () => res.socket?.resetAndDestroy());
    upstream.end(incoming.body);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const incoming: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body };
      stats.requests += 1;
      const active = rule !== undefined && rule.left > 0 && (rule.when?.(incoming) ?? true) ? rule : undefined;
      if (active === undefined) return forward(incoming, res);
      active.left -= 1;
      stats.faulted += 1;
      const { fault } = active;
      if (fault.kind === 'hang') {
        hung.add(req.socket);
        req.socket.once('close', () => hung.delete(req.socket));
        return;
      }
      if (fault.kind === 'reset') return req.socket.resetAndDestroy();
      if (fault.kind === 'fail') {
        res.writeHead(fault.status, { 'content-type': fault.contentType ?? 'application/json' });
        return res.end(fault.body ?? JSON.stringify({ message: 'injected failure' }));
      }
      await new Promise((resolve) => setTimeout(resolve, fault.delayMs).unref());
      // Even when the caller gave up meanwhile: a slow service still does the work, only its answer is lost.
      forward(incoming, res);
    })().catch(() => res.socket?.resetAndDestroy());
  });
  // Many clients keep connections alive; a hung request must not block the others on its socket.
  server.keepAliveTimeout = 60_000;

  const { port, close } = await listen(server, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}`,
    inject(next) {
      rule = { ...next, left: next.times ?? Number.POSITIVE_INFINITY };
    },
    heal() {
      rule = undefined;
      for (const socket of hung) socket.destroy();
      hung.clear();
    },
    stats,
    observe(listener) {
      listeners.push(listener);
    },
    close: async () => {
      for (const socket of hung) socket.destroy();
      await close();
    },
  };
};
