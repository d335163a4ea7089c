import * as v from 'valibot';
import { ApiError, errors } from '#core/errors';
import { normaliseSubmittedCode } from '#core/otp/codes';

/**
 * Request bodies of the mobile/email OTP API, as its documents show them. Unknown fields are
 * ignored, as the documented service does. Numbers are accepted where clients commonly send them.
 */
const text = (field: string) =>
  v.union([v.string(), v.pipe(v.number(), v.integer(), v.transform(String))], `${field} must be a string.`);

const mobileFields = {
  country_code: v.optional(text('country_code')),
  mobile: text('mobile'),
};

export const mobileBody = v.object(mobileFields);
export const mobileVerifyBody = v.object({ ...mobileFields, otp_code: v.unknown() });
export const emailBody = v.object({ email: v.string('email must be a string.') });
export const emailVerifyBody = v.object({ email: v.string('email must be a string.'), otp_code: v.unknown() });

const fieldError = (field: string | undefined, message: string): ApiError => {
  if (field === 'mobile' || field === 'country_code') return errors.invalidMobile(message, field);
  if (field === 'email') return errors.invalidEmail(message);
  return errors.invalidRequest(message, field);
};

export const parse = <S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> => {
  const result = v.safeParse(schema, body);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const field = issue.path?.[0]?.key;
  const name = typeof field === 'string' ? field : undefined;
  const message = issue.received === 'undefined' && name ? `${name} is required.` : issue.message;
  throw fieldError(name, message);
};

export const submittedCode = (value: unknown, length: number): string => {
  if (value === undefined || value === null || value === '') throw errors.invalidRequest('otp_code is required.', 'otp_code');
  const code = normaliseSubmittedCode(value, length);
  if (code === undefined) throw errors.invalidRequest(`otp_code must be a ${length}-digit code.`, 'otp_code');
  return code;
};
