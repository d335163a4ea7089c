/**
 * Structured JSON logs through Powertools for AWS Lambda (Logger). Callers pass only fields that
 * are safe to print: never a body, a code, a token, a key or a secret; identifiers go through
 * mask(). A replacer redacts such fields by name all the same, should one ever slip in.
 *
 * Request fields (request id, route, project, environment) live in AsyncLocalStorage, not in the
 * Logger: Powertools' appended keys belong to the Logger instance (shared by every request of a
 * process unless Lambda runs invocations concurrently), so the local server's concurrent requests
 * would mix them. Each line merges the current request's fields instead.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger, LogLevelThreshold, type LogItem } from '@aws-lambda-powertools/logger';

type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

// Read on every line (not once, as Powertools does) so an operator's LOG_LEVEL and tests' switches apply at once.
const threshold = (): number => order[(process.env.LOG_LEVEL?.toLowerCase() as Level | undefined) ?? 'info'] ?? order.info;

/** Field names whose values are never printed, whoever passes them. */
const SECRET_FIELDS = new Set(
  ['code', 'otp', 'otpcode', 'otp_code', 'token', 'accesstoken', 'access_token', 'refreshtoken', 'refresh_token', 'idtoken', 'appkey', 'app-key', 'app_key', 'apikey', 'x-api-key', 'api_key', 'authorization', 'password', 'secret', 'pepper', 'signingkey', 'authtoken', 'body'],
);
/** Field names that hold an address: printed masked if a caller forgot to. */
const ADDRESS_FIELDS = new Set(['to', 'mobile', 'email', 'phone', 'phonenumber', 'address']);

export const redact = (key: string, value: unknown): unknown => {
  const name = key.toLowerCase();
  if (SECRET_FIELDS.has(name) && value !== undefined && value !== null) return '[redacted]';
  if (ADDRESS_FIELDS.has(name) && typeof value === 'string' && !value.includes('*')) return mask(value);
  return value;
};

const inLambda = () => process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined;

/**
 * In Lambda, Powertools prints through its own Console on stdout (Lambda's patched console would
 * prefix every line). Anywhere else (the local server, tests) lines go through the process's
 * console, one compact JSON line per call, errors and warnings to stderr.
 */
class OtpLogger extends Logger {
  protected override printLog(logLevel: number, item: LogItem): void {
    if (inLambda()) {
      super.printLog(logLevel, item);
      return;
    }
    item.prepareForPrint();
    const line = JSON.stringify(item.getAttributes(), this.getJsonReplacer());
    (logLevel >= LogLevelThreshold.WARN ? console.error : console.log)(line);
  }
}

const logger = new OtpLogger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'otpgate',
  // Filtering is ours (threshold above); Powertools passes everything it is given.
  logLevel: 'DEBUG',
  jsonReplacerFn: redact,
});

/** Fields every line of the current request carries; per async context, so concurrent local requests never mix. */
const requestFields = new AsyncLocalStorage<Record<string, unknown>>();

export const withLogContext = <T>(fields: Record<string, unknown>, run: () => T): T => requestFields.run({ ...fields }, run);

/** Adds fields to every later line of the current request (e.g. its project once the APP-KEY resolved it). */
export const addLogContext = (fields: Record<string, unknown>): void => {
  const store = requestFields.getStore();
  if (store) Object.assign(store, fields);
};

/** The current request's fields (a copy). */
export const logContext = (): Readonly<Record<string, unknown>> => ({ ...requestFields.getStore() });

const emit = (level: Exclude<Level, 'silent'>, message: string, fields: Record<string, unknown>): void => {
  if (order[level] < threshold()) return;
  logger[level](message, { ...requestFields.getStore(), ...fields });
};

export const log = {
  debug: (message: string, fields: Record<string, unknown> = {}) => emit('debug', message, fields),
  info: (message: string, fields: Record<string, unknown> = {}) => emit('info', message, fields),
  warn: (message: string, fields: Record<string, unknown> = {}) => emit('warn', message, fields),
  error: (message: string, fields: Record<string, unknown> = {}) => emit('error', message, fields),
};

/** "+919876543211" -> "+91******211", "ana@example.com" -> "a**@example.com". */
export const mask = (identifier: string): string => {
  const at = identifier.indexOf('@');
  if (at > 0) return `${identifier[0]}${'*'.repeat(Math.max(at - 1, 1))}${identifier.slice(at)}`;
  if (identifier.length <= 6) return '*'.repeat(identifier.length);
  return `${identifier.slice(0, 3)}${'*'.repeat(identifier.length - 6)}${identifier.slice(-3)}`;
};

/** What is safe to log about an unexpected error: its kind, never its message (it may echo input). */
export const describeError = (error: unknown): Record<string, unknown> => {
  if (!(error instanceof Error)) return { errorType: typeof error };
  const withCode = error as Error & { code?: unknown; status?: unknown; $metadata?: { httpStatusCode?: number } };
  return {
    errorType: error.name,
    ...(typeof withCode.code === 'string' || typeof withCode.code === 'number' ? { errorCode: withCode.code } : {}),
    ...(typeof withCode.status === 'number' ? { errorStatus: withCode.status } : {}),
    ...(withCode.$metadata?.httpStatusCode ? { errorStatus: withCode.$metadata.httpStatusCode } : {}),
  };
};
