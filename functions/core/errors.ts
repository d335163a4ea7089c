/**
 * The one error a client ever sees: `{"error":{"code","message","field"?, ...details}}`.
 * Anything that is not an ApiError is internal and leaves the service as a generic 500.
 */
export interface ApiErrorOptions {
  field?: string;
  details?: Record<string, string | number | boolean>;
  /** Response headers that belong to the error, e.g. Retry-After on a 429. */
  headers?: Record<string, string>;
  cause?: unknown;
  /** Which limit refused the request, where one error code covers several; never shown to clients. */
  limit?: RefusingLimit;
}

/**
 * The limits that share the code too_many_requests, told apart for adapters that answer them
 * differently (Twilio Verify: 60203 for the identifier's sends, 20429 for the per-IP limit).
 */
export type RefusingLimit = 'identifier_sends' | 'ip_sends';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly details: Record<string, string | number | boolean>;
  readonly headers: Record<string, string>;
  readonly limit: RefusingLimit | undefined;

  constructor(status: number, code: string, message: string, options: ApiErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = options.field;
    this.details = options.details ?? {};
    this.headers = options.headers ?? {};
    this.limit = options.limit;
  }

  toBody(): { error: Record<string, string | number | boolean> } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field === undefined ? {} : { field: this.field }),
        ...this.details,
      },
    };
  }
}

const limited = (code: string, message: string, retryAfterSeconds: number | undefined, limit?: RefusingLimit) =>
  new ApiError(429, code, message, {
    ...(limit === undefined ? {} : { limit }),
    ...(retryAfterSeconds === undefined
      ? {}
      : { headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) }, details: { retry_after: Math.max(1, Math.ceil(retryAfterSeconds)) } }),
  });

const channelNames = { sms: 'SMS', whatsapp: 'WhatsApp message', email: 'email' } as const;

/** Every error code otpgate returns, in one place so the README and the code cannot drift. */
export const errors = {
  missingAppKey: () => new ApiError(401, 'missing_app_key', 'The APP-KEY header is required.'),
  invalidAppKey: () =>
    new ApiError(401, 'invalid_app_key', 'The APP-KEY is not valid for this project and environment.'),
  invalidRequest: (message: string, field?: string) =>
    new ApiError(400, 'invalid_request', message, field === undefined ? {} : { field }),
  invalidMobile: (message: string, field = 'mobile') => new ApiError(400, 'invalid_mobile', message, { field }),
  invalidEmail: (message: string) => new ApiError(400, 'invalid_email', message, { field: 'email' }),
  userExists: () => new ApiError(409, 'user_exists', 'A user with this identifier is already registered; log in instead.'),
  userNotFound: () => new ApiError(404, 'user_not_found', 'No user is registered with this identifier; sign up first.'),
  invalidOtp: (attemptsRemaining: number) =>
    new ApiError(401, 'invalid_otp', 'The code is not correct.', {
      field: 'otp_code',
      details: { attempts_remaining: attemptsRemaining },
    }),
  otpExpired: () => new ApiError(410, 'otp_expired', 'The code has expired; request a new one.'),
  noPendingOtp: () =>
    new ApiError(400, 'no_pending_otp', 'There is no code waiting to be verified; request a new one.'),
  tooManyAttempts: () =>
    new ApiError(429, 'too_many_attempts', 'Too many wrong codes; request a new one.'),
  /** Seconds are whole and at least 1, as Retry-After wants them. */
  resendTooSoon: (retryAfterSeconds: number) =>
    limited('resend_too_soon', 'A code was sent to this address moments ago; wait before asking for another.', retryAfterSeconds),
  /** The identifier's send windows by default; the per-IP limit passes its own `what` and `ip_sends`. */
  tooManyRequests: (retryAfterSeconds: number, what = 'codes for this address', limit: RefusingLimit = 'identifier_sends') =>
    limited('too_many_requests', `Too many ${what}; try again later.`, retryAfterSeconds, limit),

  tooManyFailures: (retryAfterSeconds: number | undefined) =>
    limited('too_many_failures', 'Too many wrong codes for this address; verification is locked for now.', retryAfterSeconds),
  budgetExceeded: (retryAfterSeconds: number) =>
    limited('budget_exceeded', "The project's sending budget is used up for now; try again later.", retryAfterSeconds),
  countryNotAllowed: () => new ApiError(403, 'country_not_allowed', 'Numbers from this country are not enabled for this project.', { field: 'mobile' }),
  deliveryFailed: (channel: 'sms' | 'whatsapp' | 'email', cause?: unknown) =>
    new ApiError(502, 'delivery_failed', `The ${channelNames[channel]} could not be sent; try again later.`, { cause }),
  invalidRefreshToken: () =>
    new ApiError(401, 'invalid_refresh_token', 'The refresh token is not valid (unknown, expired, already used or revoked); sign in again.', {
      field: 'refresh_token',
    }),
  missingAccessToken: () => new ApiError(401, 'missing_access_token', 'An "Authorization: Bearer <access token>" header is required.'),
  invalidAccessToken: (cause?: unknown) =>
    new ApiError(401, 'invalid_access_token', 'The access token is not valid for this project and environment, or has expired.', { cause }),
  projectNotFound: () => new ApiError(404, 'project_not_found', 'No such project and environment.'),
  otpConfigNotFound: () => new ApiError(404, 'otp_config_not_found', 'The project has no WhatsApp OTP configuration with this id.'),
  /**
   * A dependency (DynamoDB, Secrets Manager, SES, Twilio) was slow, down or overloaded, or the
   * request ran out of time: nothing the client did wrong, and the same request may be repeated
   * (every flow is built so that a repeat ends where one success would have).
   */
  serviceUnavailable: (retryAfterSeconds = 2) =>
    new ApiError(503, 'service_unavailable', 'The service is briefly unavailable; try again shortly.', {
      headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
      details: { retry_after: Math.max(1, Math.ceil(retryAfterSeconds)) },
    }),
  /** The same answer as serviceUnavailable: one code for every 503. */
  timeout: (): ApiError => errors.serviceUnavailable(),
  internal: () => new ApiError(500, 'internal_error', 'Something went wrong on our side; try again later.'),
} as const;

/** Raised at cold start when the deployment is misconfigured; never shown to a client. */
export class ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`otpgate: ${message}`, options);
    this.name = 'ConfigError';
  }
}
