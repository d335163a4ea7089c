import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { hashAppKey } from '#core/tenancy/app-keys';
import type { Tenant } from '#core/otp/engine';
import { ApiError, ConfigError, errors } from '#core/errors';
import { ANSWER_MARGIN_MS, isUnavailable, timeLeft, withBudget } from '#core/deadline';
import { addLogContext, describeError, log, logContext, withLogContext } from '#core/log';
import { annotateTrace, withTracing } from '#core/observability/tracing';
import { NAME_PATTERN } from '#core/tenancy/projects';
import type { Repository } from '#core/store/repository';
import { resolveSettings } from '#core/tenancy/settings';
import { cachedKeyLookup, keyIsLive, type KeyCacheOptions } from '#core/tenancy/key-cache';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

const baseHeaders = {
  'content-type': 'application/json; charset=utf-8',
  // Responses carry codes' outcomes and tokens: no cache anywhere may keep them.
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult => ({
  statusCode,
  headers: { ...baseHeaders, ...headers },
  body: JSON.stringify(body),
});

/**
 * How an API style shows an error. The core shape is `{"error":{"code","message",...}}`; other
 * styles wrap the same ApiError (same code, same status) in their documents' envelope.
 */
export type ErrorFormatter = (error: ApiError, event: HttpEvent) => HttpResult;

export const coreErrorFormat: ErrorFormatter = (error) => json(error.status, error.toBody());

/**
 * Turns any error into the style's JSON error shape. ApiErrors (always < 500 unless a provider
 * failed) are shown as they are; anything else is logged by kind only and leaves as a generic 500,
 * so no message, stack or internal detail ever reaches a client.
 */
export const errorResponder = (format: ErrorFormatter = coreErrorFormat): MiddlewareObj<HttpEvent, HttpResult> => ({
  onError: async function errorResponderOnError(request) {
    const { error } = request;
    if (error instanceof ApiError) {
      addLogContext({ outcome: error.code });
      if (error.status >= 500) log.warn('request failed', { errorCode: error.code, status: error.status });
      const response = format(error, request.event);
      // Whatever the style's envelope, the error's own headers (Retry-After) go out with it.
      request.response = { ...response, headers: { ...response.headers, ...error.headers } };
      return;
    }
    if (isUnavailable(error)) {
      // A dependency is slow or down: the client may repeat the request, and is told so (503 with Retry-After).
      addLogContext({ outcome: 'service_unavailable' });
      log.warn('dependency unavailable', describeError(error));
      const unavailable = errors.serviceUnavailable();
      const response = format(unavailable, request.event);
      request.response = { ...response, headers: { ...response.headers, ...unavailable.headers } };
      return;
    }
    addLogContext({ outcome: 'internal_error' });
    log.error('unexpected error', {
      ...describeError(error),
      // ConfigError messages name a setting, never a value, so they are safe to show an operator.
      ...(error instanceof ConfigError ? { detail: error.message } : {}),
    });
    request.response = format(errors.internal(), request.event);
  },
});

/** Parses the JSON body; a missing, malformed or non-object body is the client's 400, not our 500. */
export const jsonBody = (options: { optional?: boolean } = {}): MiddlewareObj<HttpEvent, HttpResult> => ({
  before: async function jsonBodyBefore(request) {
    const { event } = request;
    const text = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    if ((text === undefined || text.trim() === '') && options.optional) return;
    if (text === undefined || text.trim() === '') throw errors.invalidRequest('The request body must be a JSON object.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new ApiError(400, 'invalid_request', 'The request body is not valid JSON.', { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw errors.invalidRequest('The request body must be a JSON object.');
    }
    (event as { parsedBody?: unknown }).parsedBody = parsed;
  },
});

/**
 * Parses an application/x-www-form-urlencoded body, as Twilio's APIs take them: every value a
 * string, a repeated name its last value, no body no fields. Another content type with a body is
 * the client's 400 (a JSON body read as a form would only yield nonsense names).
 */
export const formBody = (): MiddlewareObj<HttpEvent, HttpResult> => ({
  before: async function formBodyBefore(request) {
    const { event } = request;
    // API Gateway's HTTP APIs hand form bodies over base64-encoded.
    const text = (event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) ?? '';
    const type = (event.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (text.trim() !== '' && type !== '' && type !== 'application/x-www-form-urlencoded') {
      throw errors.invalidRequest('The request body must be form-encoded (Content-Type: application/x-www-form-urlencoded).');
    }
    // fromEntries defines own properties, so a field named __proto__ is just a field.
    (event as { parsedBody?: unknown }).parsedBody = Object.fromEntries(new URLSearchParams(text));
  },
});

export const parsedBody = (event: HttpEvent): Record<string, unknown> =>
  (event as { parsedBody?: Record<string, unknown> }).parsedBody ?? {};

export interface TenantPath {
  readonly projectId: string;
  readonly environment: string;
}

const pathOf = (event: HttpEvent): TenantPath => ({
  projectId: event.pathParameters?.projectId ?? '',
  environment: event.pathParameters?.environment ?? '',
});

/** Only names a project could have been created with go near DynamoDB (a 3 kB id would make it throw). */
const isTenantName = (path: TenantPath): boolean => NAME_PATTERN.test(path.projectId) && NAME_PATTERN.test(path.environment);

/** The project and environment of a public route; a name no project can have is simply not found. */
export const tenantPath = (event: HttpEvent): TenantPath => {
  const path = pathOf(event);
  if (!isTenantName(path)) throw errors.projectNotFound();
  return path;
};

export type TenantResolver = (event: HttpEvent) => Promise<Tenant>;

/** The styles' key headers, in the order they are looked at (header names arrive lower-cased). */
const KEY_HEADERS = ['app-key', 'x-api-key'] as const;

const keyOf = (event: HttpEvent): string => {
  for (const name of KEY_HEADERS) {
    const value = event.headers[name]?.trim();
    if (value) return value;
  }
  throw errors.missingAppKey();
};

/**
 * An APP-KEY opens exactly one project and environment. The key is looked up by its hash; a key of
 * another project or environment, or a path no project can have, is rejected exactly like an
 * unknown key, so these routes tell a caller without a key nothing about which projects exist.
 * Keys are cached per container for KEY_CACHE_TTL_MS (a revoked key dies within it); the project,
 * and so its settings, is read on every request.
 */
export const createTenantResolver = (repo: Repository, defaultCountryCode: string, cache: KeyCacheOptions = {}): TenantResolver => {
  const findAppKey = cachedKeyLookup(repo.findAppKey, cache);
  const now = cache.now ?? Date.now;
  return async (event) => {
    const { projectId, environment } = pathOf(event);
    const appKey = keyOf(event);
    if (!isTenantName({ projectId, environment })) throw errors.invalidAppKey();
    const [key, project] = await Promise.all([findAppKey(hashAppKey(appKey)), repo.findProject(projectId)]);
    if (!key || !project || key.projectId !== projectId || key.environment !== environment || !keyIsLive(key, now())) throw errors.invalidAppKey();
    return { projectId, environment, settings: resolveSettings(project.settings, defaultCountryCode, environment) };
  };
};

/**
 * For styles whose URLs name no project (`x-api-key` / `X-API-KEY` alone): the key picks the
 * project and environment. Same hashing, the same key cache and the same answer for every kind of wrong key.
 */
export const createKeyTenantResolver = (repo: Repository, defaultCountryCode: string, cache: KeyCacheOptions = {}): TenantResolver => {
  const findAppKey = cachedKeyLookup(repo.findAppKey, cache);
  const now = cache.now ?? Date.now;
  return async (event) => {
    const key = await findAppKey(hashAppKey(keyOf(event)));
    const project = key && keyIsLive(key, now()) ? await repo.findProject(key.projectId) : undefined;
    if (!key || !project) throw errors.invalidAppKey();
    return { projectId: key.projectId, environment: key.environment, settings: resolveSettings(project.settings, defaultCountryCode, key.environment) };
  };
};

export interface TenantContext<T extends Tenant = Tenant> extends Context {
  tenant: T;
}

/** Resolves the tenant before the handler runs and hands it over on the Lambda context. */
const tenantAuth = <T extends Tenant>(resolve: (event: HttpEvent) => Promise<T>): MiddlewareObj<HttpEvent, HttpResult> => ({
  before: async function tenantAuthBefore(request) {
    const tenant = await resolve(request.event);
    (request.context as TenantContext<T>).tenant = tenant;
    // Every later line and the trace carry the tenant (the APP-KEY never: only what it resolved to).
    addLogContext({ projectId: tenant.projectId, environment: tenant.environment });
    annotateTrace({ projectId: tenant.projectId, environment: tenant.environment });
  },
});

// Answer just before Lambda would kill the function, so the client gets JSON rather than a gateway error.
const timeoutEarlyResponse = () => {
  throw errors.timeout();
};

export interface RouteOptions {
  /** The style's error envelope; the core shape by default. */
  readonly formatError?: ErrorFormatter;
  /** An empty body reads as `{}` (e.g. logout, whose only field is optional). */
  readonly bodyOptional?: boolean;
  /** How the body is encoded: JSON (default) or a form, as Twilio's APIs take it (an empty form reads as `{}`). */
  readonly body?: 'json' | 'form';
}

type LambdaHandler = (event: HttpEvent, context: Context) => Promise<HttpResult>;

/**
 * Every log line of a request carries its request id (the id some styles return as `traceId`) and
 * route, and once known its project and environment; the request ends with one `request` line
 * with its status and outcome (`ok` or the error code), the line to count and alarm on. The
 * invocation is traced (X-Ray) where tracing is on.
 */
const withRequestLog = (handler: LambdaHandler): LambdaHandler => {
  const traced = withTracing(handler);
  return (event, context) =>
    withLogContext({ requestId: event.requestContext?.requestId, route: event.routeKey }, async () => {
      const started = performance.now();
      const result = await traced(event, context);
      const status = result.statusCode ?? 200;
      log.info('request', { status, outcome: logContext().outcome ?? (status < 400 ? 'ok' : 'error'), durationMs: Math.round(performance.now() - started) });
      return result;
    });
};

/** The functions' timeout (lib/otp-function.ts), for callers that pass no Lambda context. */
const FUNCTION_TIMEOUT_MS = 10_000;
/** Half the answer margin: the last resort still answers well before Lambda would end the invocation. */
const GUARD_DELAY_MS = ANSWER_MARGIN_MS / 2;

/**
 * The request's deadline (deadline.ts), from what Lambda says is left; and, should anything not
 * bounded by it still be pending a little after the deadline (when every call bounded by it has
 * ended and its own error answered), the style's JSON 503 goes out then anyway.
 */
const withDeadline = (handler: LambdaHandler, format: ErrorFormatter = coreErrorFormat): LambdaHandler => (event, context) =>
  withBudget(context?.getRemainingTimeInMillis?.() ?? FUNCTION_TIMEOUT_MS, async () => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<HttpResult>((resolve) => {
      timer = setTimeout(() => {
        withLogContext({ requestId: event.requestContext?.requestId, route: event.routeKey }, () => log.warn('request out of time'));
        const unavailable = errors.serviceUnavailable();
        const response = format(unavailable, event);
        resolve({ ...response, headers: { ...response.headers, ...unavailable.headers } });
      }, Math.max(timeLeft() + GUARD_DELAY_MS, 0));
    });
    try {
      return await Promise.race([handler(event, context), late]);
    } finally {
      clearTimeout(timer);
    }
  });

/**
 * A route of a tenant: headers normalised, errors shaped, the key checked, then the body parsed.
 * A resolver may hand over more than the tenant (e.g. the Verify service a path names).
 */
export const tenantRoute = <T extends Tenant = Tenant>(
  resolveTenant: (event: HttpEvent) => Promise<T>,
  handle: (body: Record<string, unknown>, tenant: T, event: HttpEvent) => Promise<HttpResult>,
  options: RouteOptions = {},
) =>
  withDeadline(
    withRequestLog(
      middy<HttpEvent, HttpResult>({ timeoutEarlyResponse })
        .use(httpHeaderNormalizer())
        .use(errorResponder(options.formatError))
        .use(tenantAuth(resolveTenant))
        .use(options.body === 'form' ? formBody() : jsonBody({ optional: options.bodyOptional ?? false }))
        .handler((event, context) => handle(parsedBody(event), (context as TenantContext<T>).tenant, event)),
    ),
    options.formatError,
  );

/** A public GET route (no APP-KEY): headers normalised and errors shaped. */
export const publicRoute = (handle: (event: HttpEvent) => Promise<HttpResult>, options: RouteOptions = {}) =>
  withDeadline(
    withRequestLog(
      middy<HttpEvent, HttpResult>({ timeoutEarlyResponse })
        .use(httpHeaderNormalizer())
        .use(errorResponder(options.formatError))
        .handler((event) => handle(event)),
    ),
    options.formatError,
  );

/** The public origin clients used for this request: the configured one, else API Gateway's domain. */
export const requestOrigin = (event: HttpEvent, publicBaseUrl: string | undefined): string =>
  publicBaseUrl ?? `https://${event.requestContext.domainName}`;
