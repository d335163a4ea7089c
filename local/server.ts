import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Route } from '#lib/routes';
import { listen, readBody } from './http-server';

/**
 * Serves the route table on localhost the way API Gateway's HTTP API (payload format 2.0) would:
 * each request becomes the event the deployed function receives and goes to the same handler.
 * Also answers CORS preflights like the stack's HTTP API, and any extra local-only routes.
 */

export type LambdaHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** A local-only route's answer: `body` as JSON, or `text` as it is with its content type (the inbox page). */
export type LocalResponse =
  | { readonly status: number; readonly body: unknown }
  | { readonly status: number; readonly text: string; readonly contentType: string; readonly headers?: Readonly<Record<string, string>> };

export interface LocalApiOptions {
  readonly routes: readonly Route[];
  readonly loadHandler: (route: Route) => Promise<LambdaHandler>;
  /** Local-only routes (the dev inbox); return undefined to fall through. */
  readonly extra?: (method: string, url: URL) => Promise<LocalResponse | undefined>;
  readonly port?: number;
  readonly host?: string;
}

const cors = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'content-type,app-key,x-api-key,authorization',
  'access-control-allow-methods': 'GET,POST,OPTIONS',
};

const compile = (route: Route) => {
  const names: string[] = [];
  const pattern = route.path
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (param?.[1]) {
        names.push(param[1]);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { route, names, regex: new RegExp(`^${pattern}/?$`) };
};

// Local-only answers are never cached and never read as another type; no other site may embed them.
const localHeaders = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
};

/**
 * The dev routes show live codes. A page on another site can point its own host name at 127.0.0.1
 * (DNS rebinding) and read same-origin answers; the Host header is what it cannot fake.
 */
const loopbackHost = /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i;
const isDevPath = (pathname: string) => pathname === '/_dev' || pathname.startsWith('/_dev/');

const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = cors) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
};

const safeDecode = (segment: string): string => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
};

const errorBody = (code: string, message: string) => ({ error: { code, message } });

const toEvent = (req: IncomingMessage, url: URL, route: Route, pathParameters: Record<string, string>, body: string): APIGatewayProxyEventV2 => {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const now = Date.now();
  const routeKey = `${route.method} ${route.path}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    pathParameters,
    ...(body === '' ? {} : { body }),
    isBase64Encoded: false,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
  };
};

const contextFor = (route: Route): Context => {
  const deadline = Date.now() + 10_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `otpgate-local-${route.id}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:otpgate-local-${route.id}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/otpgate-local-${route.id}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

export const startLocalApi = async (options: LocalApiOptions): Promise<{ server: Server; port: number; close: () => Promise<void> }> => {
  const compiled = options.routes.map(compile);
  const handlers = new Map<string, Promise<LambdaHandler>>();
  const handlerFor = (route: Route) => {
    let handler = handlers.get(route.id);
    if (!handler) {
      handler = options.loadHandler(route);
      handlers.set(route.id, handler);
    }
    return handler;
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const method = req.method ?? 'GET';
      if (isDevPath(url.pathname) && !loopbackHost.test(req.headers.host ?? '')) {
        return sendJson(res, 403, errorBody('forbidden_host', 'The dev routes answer only on localhost, 127.0.0.1 or [::1].'), localHeaders);
      }
      const extra = await options.extra?.(method, url);
      // No CORS on local-only routes: any web page open in the developer's browser could read the inbox's codes.
      if (extra && 'text' in extra) {
        res.writeHead(extra.status, { 'content-type': extra.contentType, ...extra.headers, ...localHeaders });
        return res.end(extra.text);
      }
      if (extra) return sendJson(res, extra.status, extra.body, localHeaders);

      const matches = compiled
        .map((c) => ({ c, m: c.regex.exec(url.pathname) }))
        .filter((x): x is { c: (typeof compiled)[number]; m: RegExpExecArray } => x.m !== null);
      if (matches.length === 0) return sendJson(res, 404, errorBody('not_found', 'No such endpoint.'));
      if (method === 'OPTIONS') {
        res.writeHead(204, { ...cors, 'access-control-max-age': '86400' });
        return res.end();
      }
      const match = matches.find((x) => x.c.route.method === method);
      if (!match) return sendJson(res, 405, errorBody('method_not_allowed', `Use ${matches[0]!.c.route.method} for this endpoint.`));

      const body = await readBody(req);
      if (body === undefined) return sendJson(res, 413, errorBody('payload_too_large', 'The request body is too large.'));
      const pathParameters: Record<string, string> = {};
      match.c.names.forEach((name, i) => {
        pathParameters[name] = safeDecode(match.m[i + 1] ?? '');
      });

      const handler = await handlerFor(match.c.route);
      const result = await handler(toEvent(req, url, match.c.route, pathParameters, body), contextFor(match.c.route));
      res.writeHead(result.statusCode ?? 200, { ...cors, ...(result.headers as Record<string, string> | undefined) });
      res.end(result.body ?? '');
    })().catch((error: unknown) => {
      console.error(JSON.stringify({ level: 'error', message: 'local server error', errorType: error instanceof Error ? error.name : typeof error }));
      if (!res.headersSent) sendJson(res, 500, errorBody('internal_error', 'Something went wrong on our side; try again later.'));
      else res.end();
    });
  });

  const { port, close } = await listen(server, options.port ?? 3000, options.host ?? '127.0.0.1');
  return { server, port, close };
};
