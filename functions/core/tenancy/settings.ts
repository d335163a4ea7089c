import * as v from 'valibot';
import { MAX_CODE_LENGTH, MIN_CODE_LENGTH } from '#core/otp/codes';

/**
 * Per-project settings, stored on the project record. Every field has a default, so a project
 * created with none behaves sensibly, and a stored value outside its range is ignored rather than
 * trusted (the later settings CLI validates on write with the same schema).
 */
export interface ProjectSettings {
  readonly appName: string;
  readonly codeLength: number;
  readonly otpTtlSeconds: number;
  readonly maxAttempts: number;
  readonly tokenTtlSeconds: number;
  /** Lifetime of the tokens of the verification-id style (POST /v1/user/authenticate), 2 hours as its documents say. */
  readonly verificationTokenTtlSeconds: number;
  /** Calling code such as "+91"; falls back to the deployment's DEFAULT_COUNTRY_CODE. */
  readonly defaultCountryCode: string;
  /** ISO 3166-1 alpha-2 regions allowed for SMS, e.g. ["IN","US"]; empty means every country. */
  readonly allowedCountries: readonly string[];
  /** The project's WhatsApp OTP configurations by uid (the `{otp_config_uid}` of `/otp/{uid}/sendOTP`). */
  readonly whatsappConfigs: Readonly<Record<string, WhatsappConfig>>;
}

/**
 * One WhatsApp OTP configuration: who the message comes from and how it reads. Length and validity
 * override the project's for codes sent with it. Without `from`, the sender is the `whatsappFrom`
 * of the Twilio secret in use (the project's own, else the stack-wide one).
 */
export const whatsappConfigSchema = v.object({
  from: v.optional(v.pipe(v.string(), v.regex(/^\+[1-9][0-9]{6,14}$/, 'from must be a WhatsApp sender number in E.164, e.g. "+14155238886".'))),
  // WhatsApp accepts business-initiated messages only from approved templates; Twilio names them by Content SID.
  contentSid: v.optional(v.pipe(v.string(), v.regex(/^HX[0-9a-f]{32}$/, 'contentSid must be a Twilio Content SID: HX and 32 hex digits.'))),
  codeLength: v.optional(v.pipe(v.number(), v.integer(), v.minValue(MIN_CODE_LENGTH), v.maxValue(MAX_CODE_LENGTH))),
  otpTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(30), v.maxValue(600))),
});
export type WhatsappConfig = v.InferOutput<typeof whatsappConfigSchema>;

/** Configuration uids are UUID-shaped, lower case, like the documents' `5a706684-851f-3a27-b0d1-284155d8f862`. */
export const whatsappConfigUidSchema = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a WhatsApp configuration uid must be a lower-case UUID.'),
);

export const settingsSchema = v.object({
  appName: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(60))),
  codeLength: v.optional(v.pipe(v.number(), v.integer(), v.minValue(MIN_CODE_LENGTH), v.maxValue(MAX_CODE_LENGTH))),
  // NIST SP 800-63B-4 and ASVS 6.5.5: an out-of-band code is valid for at most 10 minutes.
  otpTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(30), v.maxValue(600))),
  maxAttempts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(20))),
  tokenTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(86_400))),
  verificationTokenTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(86_400))),
  defaultCountryCode: v.optional(v.pipe(v.string(), v.regex(/^\+[1-9][0-9]{0,2}$/))),
  allowedCountries: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Z]{2}$/)))),
  whatsappConfigs: v.optional(v.record(whatsappConfigUidSchema, whatsappConfigSchema)),
});

export const settingDefaults = {
  appName: 'otpgate',
  codeLength: 6,
  otpTtlSeconds: 300,
  maxAttempts: 5,
  tokenTtlSeconds: 3600,
  verificationTokenTtlSeconds: 7200,
  allowedCountries: [] as readonly string[],
  whatsappConfigs: {} as Readonly<Record<string, WhatsappConfig>>,
};

/** Configurations are resolved one by one: an invalid one is dropped (never trusted), the others stay. */
const resolveWhatsappConfigs = (stored: unknown): Readonly<Record<string, WhatsappConfig>> => {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return settingDefaults.whatsappConfigs;
  const configs: Record<string, WhatsappConfig> = {};
  for (const [uid, config] of Object.entries(stored)) {
    const result = v.safeParse(whatsappConfigSchema, config);
    if (v.is(whatsappConfigUidSchema, uid) && result.success) configs[uid] = Object.freeze(result.output);
  }
  return Object.freeze(configs);
};

export const resolveSettings = (stored: unknown, deploymentDefaultCountryCode: string): ProjectSettings => {
  const input = typeof stored === 'object' && stored !== null ? (stored as Record<string, unknown>) : {};
  const valid: Record<string, unknown> = {};
  // Field by field, so one bad value costs only that field its custom value.
  for (const [key, schema] of Object.entries(settingsSchema.entries)) {
    const result = v.safeParse(schema, input[key]);
    if (result.success && result.output !== undefined) valid[key] = result.output;
  }
  return Object.freeze({
    ...settingDefaults,
    defaultCountryCode: deploymentDefaultCountryCode,
    ...valid,
    whatsappConfigs: resolveWhatsappConfigs(input.whatsappConfigs),
  }) as ProjectSettings;
};
