import { AsyncLocalStorage } from 'node:async_hooks';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpHandlerOptions, HttpRequest, MetadataBearer, MiddlewareStack, RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types';
import { deliveryTimeout, OutOfTimeError, READ_START_MS, timeLeft, WRITE_START_MS } from '#core/deadline';

/**
 * How every AWS SDK client of otpgate waits and retries, derived from the request's deadline
 * (deadline.ts): each attempt gets a timeout that really aborts it (min of the service's cap and
 * what is left), an attempt that could not finish in time is not started, and a retry happens only
 * when there is time for it and it cannot do a thing twice.
 *
 * A write whose answer was lost (timeout, reset) may have been applied, so it is never repeated
 * blindly: the caller sees the failure and decides (and the client that gets our 503 retries a
 * request built to be safe to repeat). Two exceptions are safe to repeat: a write that never left
 * (connection refused or not established, or the service throttled it), and TransactWriteItems,
 * which the SDK sends with an idempotency token that makes a repeat of an applied transaction a
 * no-op that reports success.
 */

export interface CallPolicy {
  /** Per attempt: connecting (ms). */
  readonly connectMs: number;
  /** Per attempt: the whole call, request sent to response read (ms); at least this, or a third of the time left. */
  readonly attemptMs: number;
  readonly maxAttempts: number;
}

export const policies = {
  // DynamoDB answers in milliseconds; an attempt that takes seconds is stuck, and another may not be.
  dynamodb: { connectMs: 1_000, attemptMs: 1_500, maxAttempts: 3 },
  secrets: { connectMs: 1_000, attemptMs: 2_000, maxAttempts: 3 },
  // A send is not repeated unless it never left (see above), so its one attempt may take longer.
  ses: { connectMs: 1_000, attemptMs: 5_000, maxAttempts: 2 },
} as const satisfies Record<string, CallPolicy>;

const NO_DEADLINE_MS = 10_000;

/** The operation under way in this async context (the SDK's command name), for the handler and the retry strategy. */
const operation = new AsyncLocalStorage<string>();

const WRITES = /^(PutItem|UpdateItem|DeleteItem|BatchWriteItem|TransactWriteItems|SendEmail|SendBulkEmail)Command$/;
/** Deliveries, which must end in time for the code to be undone if they fail. */
const SENDS = /^(SendEmail|SendBulkEmail)Command$/;
const IDEMPOTENT_WRITES = /^TransactWriteItemsCommand$/;

const isWrite = (op: string | undefined) => op !== undefined && WRITES.test(op);

/** Marks on an error what its attempt tells the retry strategy. */
const NOT_SENT = Symbol('otpgate.notSent');

/** Errors that happen before a byte of the request reached the service. */
const neverSent = (error: unknown): boolean => {
  const e = error as { code?: unknown; message?: unknown; [NOT_SENT]?: boolean };
  if (e[NOT_SENT]) return true;
  if (e.code === 'ECONNREFUSED') return true;
  return typeof e.message === 'string' && e.message.includes('did not establish a connection');
};

/** Wraps the SDK's NodeHttpHandler: every attempt aborts at min(cap, time left), and is not started without time for it. */
class DeadlineHttpHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };

  constructor(
    private readonly inner: NodeHttpHandler,
    private readonly service: string,
    private readonly policy: CallPolicy,
  ) {}

  async handle(request: HttpRequest, options: HttpHandlerOptions = {}) {
    const op = operation.getStore();
    // Outside a request (scripts, the CLI) a call still gets the functions' whole timeout at most.
    const left = Math.min(timeLeft(), NO_DEADLINE_MS);
    if (left < (isWrite(op) ? WRITE_START_MS : READ_START_MS)) {
      throw Object.assign(new OutOfTimeError(`${this.service} ${op ?? 'call'}`), { [NOT_SENT]: true });
    }
    const ms =
      op !== undefined && SENDS.test(op)
        ? deliveryTimeout(this.policy.attemptMs)
        : // A write gains nothing from being cut short, only an unknown outcome: it may take what is left. (Even a
          // transaction, which could be repeated: DynamoDB queues it behind the one cut short, and both are late.)
          isWrite(op)
          ? left
          : // A third of what is left, but never less than the service's usual worst: a stuck attempt is cut short
            // while a retry still fits, and a busy one (a burst queued at DynamoDB) is not mistaken for a stuck one.
            Math.max(Math.min(left, Math.max(this.policy.attemptMs, left / 3)), 1);
    const timer = AbortSignal.timeout(Math.ceil(ms));
    const signal = options.abortSignal ? AbortSignal.any([options.abortSignal as AbortSignal, timer]) : timer;
    try {
      return await this.inner.handle(request as Parameters<NodeHttpHandler['handle']>[0], { ...options, abortSignal: signal });
    } catch (error) {
      if (!timer.aborted) throw error;
      throw Object.assign(new Error(`otpgate: ${this.service} ${op ?? 'call'} did not answer within ${ms} ms`, { cause: error }), {
        name: 'TimeoutError',
        code: 'ETIMEDOUT',
      });
    }
  }

  updateHttpClientConfig(key: Parameters<NodeHttpHandler['updateHttpClientConfig']>[0], value: Parameters<NodeHttpHandler['updateHttpClientConfig']>[1]) {
    this.inner.updateHttpClientConfig(key, value);
  }

  httpHandlerConfigs() {
    return this.inner.httpHandlerConfigs();
  }

  destroy() {
    this.inner.destroy();
  }
}

const token = (retryCount: number, delay: number): RetryToken => ({ getRetryCount: () => retryCount, getRetryDelay: () => delay });

/** Retries transient failures and throttling with jittered backoff, while the deadline leaves room and repeating is safe. */
class DeadlineRetryStrategy implements RetryStrategyV2 {
  constructor(private readonly maxAttempts: number) {}

  async acquireInitialRetryToken(): Promise<RetryToken> {
    return token(0, 0);
  }

  async refreshRetryTokenForRetry(previous: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
    const retries = previous.getRetryCount() + 1;
    const fail = () => {
      throw info.error ?? new Error('otpgate: not retried');
    };
    if (retries >= this.maxAttempts) return fail();
    if (info.error instanceof OutOfTimeError) return fail();
    if (info.errorType !== 'TRANSIENT' && info.errorType !== 'THROTTLING') return fail();
    const op = operation.getStore();
    const repeatable = !isWrite(op) || info.errorType === 'THROTTLING' || (op !== undefined && IDEMPOTENT_WRITES.test(op)) || neverSent(info.error);
    if (!repeatable) return fail();
    const base = info.errorType === 'THROTTLING' ? 200 : 50;
    const delay = Math.random() * base * 2 ** retries;
    if (timeLeft() - delay < (isWrite(op) ? WRITE_START_MS : READ_START_MS)) return fail();
    return token(retries, delay);
  }

  recordSuccess(): void {}
}

/** What to pass to an AWS SDK client's constructor (with its own options). */
export const clientOptions = (service: keyof typeof policies) => {
  const policy = policies[service];
  return {
    requestHandler: new DeadlineHttpHandler(
      new NodeHttpHandler({
        connectionTimeout: policy.connectMs,
        // Each attempt's own timeout is the abort signal above; this one only bounds a call that has no deadline.
        // throwOnRequestTimeout: without it this handler only logs a warning when requestTimeout passes.
        requestTimeout: NO_DEADLINE_MS,
        throwOnRequestTimeout: true,
        // A Lambda container serves one request at a time; the local server serves every request of every route
        // from one process, where waiting for one of the default 50 sockets would count against each call's timeout.
        httpAgent: { maxSockets: 1_000 },
        httpsAgent: { maxSockets: 1_000 },
      }),
      service,
      policy,
    ),
    retryStrategy: new DeadlineRetryStrategy(policy.maxAttempts),
    maxAttempts: policy.maxAttempts,
  };
};

/**
 * Builds an AWS SDK client with the deadline's timeouts and retries, e.g.
 * `deadlineClient('dynamodb', (options) => new DynamoDBClient(options))`.
 */
export const deadlineClient = <I extends object, O extends MetadataBearer, C extends { middlewareStack: MiddlewareStack<I, O> }>(
  service: keyof typeof policies,
  make: (options: ReturnType<typeof clientOptions>) => C,
): C => {
  const client = make(clientOptions(service));
  // Names each call's operation for the handler and the retry strategy (which see only the HTTP request and the error).
  client.middlewareStack.add((next, context) => (args) => operation.run(String(context.commandName ?? ''), () => next(args)), {
    step: 'initialize',
    priority: 'high',
    name: 'otpgateOperation',
    override: true,
  });
  return client;
};
