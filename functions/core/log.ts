/**
 * A deliberately small JSON-lines logger. Callers pass only fields that are safe to print:
 * never a body, a code, a token, a key or a secret; identifiers go through mask().
 */
import { AsyncLocalStorage } from 'node:async_hooks';

type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

const threshold = (): number => order[(process.env.LOG_LEVEL as Level | undefined) ?? 'info'] ?? order.info;

/** Fields every line of the current request carries (its request id); per async context, so concurrent local requests never mix. */
const requestFields = new AsyncLocalStorage<Record<string, unknown>>();

export const withLogContext = <T>(fields: Record<string, unknown>, run: () => T): T => requestFields.run(fields, run);

const emit = (level: Exclude<Level, 'silent'>, message: string, fields: Record<string, unknown>): void => {
  if (order[level] < threshold()) return;
  const line = JSON.stringify({ level, message, time: new Date().toISOString(), ...requestFields.getStore(), ...fields });
  (level === 'error' || level === 'warn' ? console.error : console.log)(line);
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
