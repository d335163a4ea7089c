import * as v from 'valibot';
import { errors } from '#core/errors';

/**
 * Request bodies of the Twilio Verify v2 API as otpgate serves it: form-encoded, Twilio's
 * parameter names. Parameters otpgate has no use for (RateLimits, TemplateSid, ChannelConfiguration,
 * CustomMessage, SendDigits, Tags, RiskCheck, EnableSnaClientToken, ...) are accepted and ignored,
 * as unknown fields are in every style. An empty value (`Locale=`) counts as absent.
 */

/** The channels otpgate sends codes by. */
export const CHANNELS = ['sms', 'whatsapp', 'email'] as const;
export type VerifyChannel = (typeof CHANNELS)[number];

/** Channels Twilio Verify has and otpgate does not: Twilio's own "delivery channel disabled" (60223) for them. */
export const TWILIO_ONLY_CHANNELS: readonly string[] = ['call', 'sna', 'auto', 'rcs'];

export const VERIFICATION_SID = /^VE[0-9a-fA-F]{32}$/;

/** A BCP 47 language tag as Twilio's Locale takes them (en, en-GB, pt-BR, zh-HK). */
const LOCALE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$/;

/** What the check takes: Twilio checks 4 to 10 digits (its 60200 otherwise), whatever the code's length. */
const CODE = /^[0-9]{4,10}$/;

const amount = v.optional(v.pipe(v.string(), v.maxLength(100, 'must be at most 100 characters.')));

/** POST /v2/Services/{ServiceSid}/Verifications */
export const createVerificationBody = v.object({
  /** E.164 for sms and whatsapp (a national number is read in the project's default country), an address for email. */
  To: v.pipe(v.string(), v.trim(), v.nonEmpty('To is required.'), v.maxLength(254, 'To is too long.')),
  Channel: v.picklist(CHANNELS, 'Channel must be sms, whatsapp or email.'),
  /** Accepted and checked; messages are sent in English. */
  Locale: v.optional(v.pipe(v.string(), v.regex(LOCALE, 'Locale must be a language tag such as en or pt-BR.'))),
  /** Replaces the project's appName in this verification's messages. */
  CustomFriendlyName: v.optional(v.pipe(v.string(), v.trim(), v.nonEmpty('CustomFriendlyName must not be blank.'), v.maxLength(30, 'CustomFriendlyName must be at most 30 characters.'))),
  /** Only where the project's twilioVerifyCustomCode setting allows it (60204 otherwise). */
  CustomCode: v.optional(v.pipe(v.string(), v.regex(CODE, 'CustomCode must be 4 to 10 digits.'))),
  /** Android SMS Retriever: ends the SMS on a line of its own (sms channel only). */
  AppHash: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/]{11}$/, 'AppHash must be the 11-character hash of an Android app.'))),
  /** The end user's IP, for the per-IP send limit (sendsPerIpPerHour / sendsPerIpPerHourByStyle["twilio-verify"]). */
  DeviceIp: v.optional(v.pipe(v.string(), v.trim(), v.ip('DeviceIp must be an IPv4 or IPv6 address.'))),
  /** PSD2 fields: stored and shown back, nothing more. */
  Amount: amount,
  Payee: amount,
});

/** POST /v2/Services/{ServiceSid}/VerificationCheck: Code and one of To or VerificationSid. */
export const verificationCheckBody = v.object({
  Code: v.pipe(v.string('Code is required.'), v.trim(), v.regex(CODE, 'Code must be 4 to 10 digits.')),
  To: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(254, 'To is too long.'))),
  VerificationSid: v.optional(v.pipe(v.string(), v.trim(), v.regex(VERIFICATION_SID, 'VerificationSid must be VE and 32 hex digits.'))),
});

/** POST /v2/Services/{ServiceSid}/Verifications/{Sid} */
export const updateVerificationBody = v.object({
  Status: v.picklist(['canceled', 'approved'], 'Status must be canceled or approved.'),
});

/** Parses a form body; the first problem is the client's 400 on that parameter (Twilio's 60200). */
export const parse = <S extends v.GenericSchema>(schema: S, body: Record<string, unknown>): v.InferOutput<S> => {
  const present = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== ''));
  const result = v.safeParse(schema, present);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const key = issue.path?.[0]?.key;
  const field = typeof key === 'string' ? key : undefined;
  const message = issue.received === 'undefined' && field ? `${field} is required.` : issue.message;
  throw errors.invalidRequest(message.startsWith(field ?? '\0') ? message : `${field ?? 'The request'} ${message}`, field);
};
