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
  /** Calling code such as "+91"; falls back to the deployment's DEFAULT_COUNTRY_CODE. */
  readonly defaultCountryCode: string;
  /** ISO 3166-1 alpha-2 regions allowed for SMS, e.g. ["IN","US"]; empty means every country. */
  readonly allowedCountries: readonly string[];
  /** Display name on the email From line ("Acme" <no-reply@…>); the address stays the deployment's. */
  readonly emailFromName?: string | undefined;
  /** Email subject; {code}, {app} and {minutes} are filled in. */
  readonly emailSubject?: string | undefined;
  /** SMS text; must contain {code}. */
  readonly smsTemplate?: string | undefined;
  /** WhatsApp text (when no approved Content template is used); must contain {code}. */
  readonly whatsappTemplate?: string | undefined;
  /** When set, every SMS ends with the WebOTP / SMS Retriever line `@<domain> #<code>`. */
  readonly webOtpDomain?: string | undefined;
}

/** What a message template may say besides its text: the code, the app's name, the validity in minutes. */
export const TEMPLATE_PLACEHOLDERS = ['code', 'app', 'minutes'] as const;

const placeholdersOf = (text: string): string[] => [...text.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] ?? '');

const knownPlaceholders = v.rawCheck<string>(({ dataset, addIssue }) => {
  if (!dataset.typed) return;
  const unknown = placeholdersOf(dataset.value).find((name) => !(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(name));
  if (unknown !== undefined) addIssue({ message: `has an unknown placeholder {${unknown}}; use {code}, {app} or {minutes}` });
});

/** A message text: without {code} the message would not carry the code at all. */
const messageTemplate = (maxLength: number) =>
  v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(maxLength),
    v.check((text) => text.includes('{code}'), 'must contain {code}, where the code goes'),
    knownPlaceholders,
  );

/** A DNS host name as WebOTP expects after the @ (the origin's host, no scheme or port). */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export const settingsSchema = v.object({
  appName: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(60))),
  codeLength: v.optional(v.pipe(v.number(), v.integer(), v.minValue(MIN_CODE_LENGTH), v.maxValue(MAX_CODE_LENGTH))),
  // NIST SP 800-63B-4 and ASVS 6.5.5: an out-of-band code is valid for at most 10 minutes.
  otpTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(30), v.maxValue(600))),
  maxAttempts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(20))),
  tokenTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(86_400))),
  defaultCountryCode: v.optional(v.pipe(v.string(), v.regex(/^\+[1-9][0-9]{0,2}$/))),
  allowedCountries: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Z]{2}$/)))),
  // A display name only: the stack's IAM pins ses:FromAddress to the deployment's sender address.
  emailFromName: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(64), v.regex(/^[^"\\<>\u0000-\u001f\u007f]*$/))),
  emailSubject: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(150), v.regex(/^[^\r\n]*$/), knownPlaceholders)),
  smsTemplate: v.optional(messageTemplate(320)),
  whatsappTemplate: v.optional(messageTemplate(1000)),
  webOtpDomain: v.optional(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.regex(HOST_NAME))),
});

export const settingDefaults = {
  appName: 'otpgate',
  codeLength: 6,
  otpTtlSeconds: 300,
  maxAttempts: 5,
  tokenTtlSeconds: 3600,
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
