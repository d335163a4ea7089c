import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Every request has a deadline: the moment its answer must be ready. It is set once, from what
 * Lambda says is left of the invocation, minus a margin for returning the answer; every AWS SDK
 * and provider call takes its timeout from what is left of it, and no write starts without the
 * time to finish and be answered. So a slow or dead dependency costs the client a JSON 503 within
 * the function's timeout, never API Gateway's own error, and no work is done after the client was
 * told to try again (the deployed functions have 10 s: lib/otp-function.ts).
 */

/** Kept back from the invocation's remaining time: the answer's way out, and middy's last-resort answer before Lambda's kill. */
export const ANSWER_MARGIN_MS = 1_000;
/** Least time left for a read to be worth starting. */
export const READ_START_MS = 250;
/** Least time left for a write to start: its round trip, with room to spare. Less, and it is not sent at all. */
export const WRITE_START_MS = 500;
/** Least time for delivering a message (a Twilio or SES call). */
export const DELIVERY_START_MS = 1_000;
/** Kept after a delivery's timeout: undoing the stored code if it failed, then answering. */
export const DELIVERY_RESERVE_MS = WRITE_START_MS;
/** What storing a code and sending it needs before the write starts: the write, the delivery, and the undo if delivery fails. */
export const SEND_START_MS = WRITE_START_MS + DELIVERY_START_MS + DELIVERY_RESERVE_MS;

/** How long a delivery may take now: at most `capMs`, and never into the time kept for undoing and answering. */
export const deliveryTimeout = (capMs: number): number => Math.ceil(Math.max(Math.min(capMs, timeLeft() - DELIVERY_RESERVE_MS), 1));

interface Budget {
  /** Epoch ms by which the answer must be ready. */
  readonly answerBy: number;
}

const current = new AsyncLocalStorage<Budget>();

/** Runs a request with `remainingMs` (Lambda's getRemainingTimeInMillis) less the answer margin. */
export const withBudget = <T>(remainingMs: number, run: () => T): T =>
  current.run({ answerBy: Date.now() + Math.max(remainingMs - ANSWER_MARGIN_MS, 0) }, run);

/** Milliseconds left before the answer must be ready; Infinity outside a request (scripts, the CLI). */
export const timeLeft = (): number => {
  const budget = current.getStore();
  return budget === undefined ? Number.POSITIVE_INFINITY : budget.answerBy - Date.now();
};

/** The request's answer time (epoch ms), if it has one. */
export const answerBy = (): number | undefined => current.getStore()?.answerBy;

/** A call that was not started, or not waited for, because the request's time was up. Never retried. */
export class OutOfTimeError extends Error {
  constructor(what: string) {
    super(`otpgate: no time left for ${what}`);
    this.name = 'OutOfTimeError';
  }
}

/** Refuses to start `what` unless `needMs` are left. */
export const ensureTime = (needMs: number, what: string): void => {
  if (timeLeft() < needMs) throw new OutOfTimeError(what);
};

/**
 * Waits for `work` at most `ms` (OutOfTimeError after that). The work itself is not stopped: a
 * call that can be aborted is given its own timeout; this is the bound on how long the request waits.
 */
export const within = async <T>(work: Promise<T>, ms: number, what: string): Promise<T> => {
  if (!Number.isFinite(ms)) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OutOfTimeError(what)), Math.max(ms, 0));
  });
  // A call abandoned here may still fail later; that must not be an unhandled rejection.
  work.catch(() => undefined);
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
};

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_BAD_RESPONSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const UNAVAILABLE_NAMES = new Set([
  'OutOfTimeError',
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TransactionInProgressException',
  'LimitExceededException',
]);

/**
 * Whether an error means a dependency (DynamoDB, Secrets Manager, SES, Twilio) is slow, down or
 * overloaded, so the same request may well succeed a little later: a timeout, a refused or reset
 * connection, a 5xx or a 429 from the service. Not: a refusal of this request (a 4xx), or a bug.
 */
export const isUnavailable = (error: unknown, depth = 0): boolean => {
  if (!(error instanceof Error) || depth > 5) return false;
  const e = error as Error & { code?: unknown; status?: unknown; $metadata?: { httpStatusCode?: number } };
  if (UNAVAILABLE_NAMES.has(e.name)) return true;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode ?? (typeof e.status === 'number' ? e.status : undefined);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  return isUnavailable(e.cause, depth + 1);
};
