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
  /** Lifetime of each refresh token; a session lasts as long as it is refreshed within it. */
  readonly refreshTokenTtlSeconds: number;
  /** Calling code such as "+91"; falls back to the deployment's DEFAULT_COUNTRY_CODE. */
  readonly defaultCountryCode: string;
  /** ISO 3166-1 alpha-2 regions allowed for SMS, e.g. ["IN","US"]; empty means every country. */
  readonly allowedCountries: readonly string[];
}

/** A refresh token lives at most a year; revocation records are kept this long (see tokens/sessions.ts). */
export const MAX_REFRESH_TOKEN_TTL_SECONDS = 365 * 86_400;

export const settingsSchema = v.object({
  appName: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(60))),
  codeLength: v.optional(v.pipe(v.number(), v.integer(), v.minValue(MIN_CODE_LENGTH), v.maxValue(MAX_CODE_LENGTH))),
  // NIST SP 800-63B-4 and ASVS 6.5.5: an out-of-band code is valid for at most 10 minutes.
  otpTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(30), v.maxValue(600))),
  maxAttempts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(20))),
  tokenTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(86_400))),
  refreshTokenTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(3_600), v.maxValue(MAX_REFRESH_TOKEN_TTL_SECONDS))),
  defaultCountryCode: v.optional(v.pipe(v.string(), v.regex(/^\+[1-9][0-9]{0,2}$/))),
  allowedCountries: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Z]{2}$/)))),
});

export const settingDefaults = {
  appName: 'otpgate',
  codeLength: 6,
  otpTtlSeconds: 300,
  maxAttempts: 5,
  tokenTtlSeconds: 3600,
  refreshTokenTtlSeconds: 30 * 86_400,
  allowedCountries: [] as readonly string[],
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
  }) as ProjectSettings;
};
