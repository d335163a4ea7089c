import { errors, type ApiError } from '#core/errors';
import type { ErrorName } from '#core/openapi/operations';

/**
 * One instance of every error in functions/core/errors.ts, made by its own factory, so its status,
 * code, message, details and headers in the document are the ones a client gets. Typed as a
 * complete record: an error added to errors.ts does not compile here until it has a sample.
 * Arguments are typical values (a message a handler really uses, a wait of a minute).
 */
export const sampleErrors: Readonly<Record<ErrorName, () => ApiError>> = {
  missingAppKey: () => errors.missingAppKey(),
  invalidAppKey: () => errors.invalidAppKey(),
  invalidRequest: () => errors.invalidRequest('The request body must be a JSON object.'),
  invalidMobile: () => errors.invalidMobile('mobile is not a valid phone number for its country.'),
  invalidEmail: () => errors.invalidEmail('email is not a valid email address.'),
  userExists: () => errors.userExists(),
  userNotFound: () => errors.userNotFound(),
  invalidOtp: () => errors.invalidOtp(4),
  otpExpired: () => errors.otpExpired(),
  noPendingOtp: () => errors.noPendingOtp(),
  tooManyAttempts: () => errors.tooManyAttempts(),
  resendTooSoon: () => errors.resendTooSoon(60),
  tooManyRequests: () => errors.tooManyRequests(900),
  tooManyFailures: () => errors.tooManyFailures(1800),
  budgetExceeded: () => errors.budgetExceeded(600),
  countryNotAllowed: () => errors.countryNotAllowed(),
  deliveryFailed: () => errors.deliveryFailed('sms'),
  invalidRefreshToken: () => errors.invalidRefreshToken(),
  missingAccessToken: () => errors.missingAccessToken(),
  invalidAccessToken: () => errors.invalidAccessToken(),
  projectNotFound: () => errors.projectNotFound(),
  otpConfigNotFound: () => errors.otpConfigNotFound(),
  timeout: () => errors.timeout(),
  serviceUnavailable: () => errors.serviceUnavailable(),
  internal: () => errors.internal(),
};

/** Every route's middy chain can answer these (the early timeout response and the 500 of the error responder). */
export const ALWAYS: readonly ErrorName[] = ['timeout', 'internal'];
