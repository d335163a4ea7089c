import * as v from 'valibot';
import { errors } from '#core/errors';

/**
 * Request bodies of the WhatsApp OTP API, as its document shows them. Unknown fields are ignored;
 * numbers are accepted where clients commonly send them (`"countryCode": 91`, `"otp": 482913`).
 */
const text = (field: string) =>
  v.union([v.string(), v.pipe(v.number(), v.integer(), v.transform(String))], `${field} must be a string.`);

const phoneFields = {
  mobileNumber: text('mobileNumber'),
  /** With or without the +; the project's default country when absent. */
  countryCode: v.optional(text('countryCode')),
};

export const sendOtpBody = v.object({
  // The recipient's name: accepted as documented, never stored, logged or sent.
  name: v.nullish(v.pipe(v.string('name must be a string.'), v.maxLength(200, 'name must be at most 200 characters.'))),
  ...phoneFields,
});

export const verifyOtpBody = v.object({
  otp: v.pipe(
    text('otp'),
    v.trim(),
    // The code's length depends on the configuration it was sent with, which verify is not told.
    v.regex(/^[0-9]{4,10}$/, 'otp must be the code as sent: 4 to 10 digits.'),
  ),
  ...phoneFields,
});

export const parse = <S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> => {
  const result = v.safeParse(schema, body);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const key = issue.path?.[0]?.key;
  const field = typeof key === 'string' ? key : undefined;
  throw errors.invalidRequest(issue.received === 'undefined' && field ? `${field} is required.` : issue.message, field);
};
