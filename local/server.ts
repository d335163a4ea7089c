import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
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

/** What every answer the local server makes itself carries, as the functions' own answers do (http/route.ts). */
const securityHeaders = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

// Local-only answers are never cached and never read as another type; no other site may embed them.
const localHeaders = {
  ...securityHeaders,
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
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...securityHeaders, ...headers });
  res.end(JSON.stringify(body));
};

/**
 * What the local server answers when Node's HTTP parser refuses a request (a header line such as
 * `APP-KEY : value`, headers over Node's 16 kB, a malformed request line): the same JSON error
 * shape and headers as every other answer, where Node would send an empty 400, then the
 * connection is closed (its bytes can no longer be trusted to frame a next request).
 */
const parserErrors: Readonly<Record<string, { status: number; code: string; message: string }>> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'The request headers are too large.' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'The request took too long to arrive.' },
  ERR_HTTP_HEADERS_TIMEOUT: { status: 408, code: 'request_timeout', message: 'The request headers took too long to arrive.' },
};

const answerParserError = (error: Error & { code?: string }, socket: Duplex) => {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const { status, code, message } = parserErrors[error.code ?? ''] ?? { status: 400, code: 'bad_request', message: 'The request is not valid HTTP.' };
  const body = JSON.stringify(errorBody(code, message));
  const headers = { 'content-type': 'application/json; charset=utf-8', ...securityHeaders, 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n${body}`);
};

/** The request target as a URL; undefined for one no URL parser accepts (e.g. `http://[`). */
const targetOf = (req: IncomingMessage): URL | undefined => {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
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
      const url = targetOf(req);
      if (url === undefined) return sendJson(res, 400, errorBody('bad_request', 'The request target is not a valid path.'));
      // HEAD is GET without the body (Node leaves the body out of a HEAD answer by itself).
      const method = req.method === 'HEAD' ? 'GET' : req.method ?? 'GET';
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
      // Every local-only route is read-only.
      if (isDevPath(url.pathname) && method !== 'GET' && (await options.extra?.('GET', url)) !== undefined) {
        return sendJson(res, 405, errorBody('method_not_allowed', 'Use GET for this endpoint.'), { ...localHeaders, allow: 'GET, HEAD' });
      }

      const matches = compiled
        .map((c) => ({ c, m: c.regex.exec(url.pathname) }))
        .filter((x): x is { c: (typeof compiled)[number]; m: RegExpExecArray } => x.m !== null);
      if (matches.length === 0) return sendJson(res, 404, errorBody('not_found', 'No such endpoint.'));
      if (method === 'OPTIONS') {
        res.writeHead(204, { ...cors, 'access-control-max-age': '86400' });
        return res.end();
      }
      const match = matches.find((x) => x.c.route.method === method);
      if (!match) {
        const allowed = [...new Set(matches.flatMap((x) => (x.c.route.method === 'GET' ? ['GET', 'HEAD'] : [x.c.route.method]))), 'OPTIONS'];
        return sendJson(res, 405, errorBody('method_not_allowed', `Use ${matches[0]!.c.route.method} for this endpoint.`), { ...cors, allow: allowed.join(', ') });
      }

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
  server.on('clientError', answerParserError);

  const { port, close } = await listen(server, options.port ?? 3000, options.host ?? '127.0.0.1');
  return { server, port, close };
};
