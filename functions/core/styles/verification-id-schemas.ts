import * as v from 'valibot';
import { ApiError, errors } from '#core/errors';
import { normaliseSubmittedCode } from '#core/otp/codes';
import { normalisePhone, type Phone } from '#core/otp/identity';

/**
 * Request bodies of the verification-id API (POST /v1/send-verification-code and
 * /v1/user/authenticate), as its documents show them. Unknown fields are ignored.
 */

export const ID_TYPE = 'smsVerificationCode';

export const sendBody = v.object({
  phoneNumber: v.string('phoneNumber must be a string.'),
});

/** Read first, on its own: another idType may come without a phoneNumber, and deserves the answer about idType. */
export const idTypeBody = v.object({
  idType: v.string('idType must be a string.'),
});

export const authenticateBody = v.object({
  phoneNumber: v.string('phoneNumber must be a string.'),
  verificationCode: v.unknown(),
  // Not in the documents (they verify by number alone); a client that sends it back only spends tries on that very code.
  verificationId: v.optional(v.pipe(v.string('verificationId must be a string.'), v.minLength(1), v.maxLength(100, 'verificationId is too long.'))),
});

const fieldError = (field: string | undefined, message: string): ApiError => {
  if (field === 'phoneNumber') return errors.invalidMobile(message, 'phoneNumber');
  return errors.invalidRequest(message, field);
};

export const parse = <S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> => {
  const result = v.safeParse(schema, body);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const key = issue.path?.[0]?.key;
  const field = typeof key === 'string' ? key : undefined;
  const message = issue.received === 'undefined' && field ? `${field} is required.` : issue.message;
  throw fieldError(field, message);
};

/** Only SMS codes exist in this API; its documents reserve idType for other kinds of identity. */
export const checkIdType = (idType: string): void => {
  if (idType !== ID_TYPE) throw errors.invalidRequest(`idType must be "${ID_TYPE}".`, 'idType');
};

/**
 * Separators libphonenumber-js accepts in a formatted number beyond the ASCII ones normalisePhone
 * already ignores (typographic dashes, square brackets, tildes, invisible spaces), so a number
 * copied from a document or a contact card is read as the digits it shows. NFKC first turns
 * full-width digits and brackets into ASCII ones.
 */
const EXTRA_SEPARATORS = /[\u2010-\u2015\u2212\u30FC\u2053\u223C~[\]\u00AD\u200B\u2060]/g;

/** The number in any formatting; national numbers are in the project's default country. */
export const phoneNumberOf = (value: string, policy: { defaultCountryCode: string; allowedCountries: readonly string[] }): Phone => {
  const mobile = value.normalize('NFKC').replace(EXTRA_SEPARATORS, ' ');
  try {
    return normalisePhone({ mobile }, policy);
  } catch (error) {
    // The core's messages name its own field; this API's field is phoneNumber.
    if (error instanceof ApiError && error.code === 'invalid_mobile') {
      throw errors.invalidMobile(error.message.replace(/^mobile\b/, 'phoneNumber'), 'phoneNumber');
    }
    throw error;
  }
};

export const verificationCodeOf = (value: unknown, length: number): string => {
  if (value === undefined || value === null || value === '') throw errors.invalidRequest('verificationCode is required.', 'verificationCode');
  const code = normaliseSubmittedCode(value, length);
  if (code === undefined) throw errors.invalidRequest(`verificationCode must be a ${length}-digit code.`, 'verificationCode');
  return code;
};
