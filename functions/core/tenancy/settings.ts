import { getCountries, type CountryCode } from 'libphonenumber-js/max';
import metadata from 'libphonenumber-js/metadata.max.json';
import * as v from 'valibot';
import { MAX_CODE_LENGTH, MIN_CODE_LENGTH } from '#core/otp/codes';
import { emailKey } from '#core/otp/identity';

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
  /** Lifetime of each refresh token; a session lasts as long as it is refreshed within it, up to sessionMaxLifetimeSeconds. */
  readonly refreshTokenTtlSeconds: number;
  /**
   * A session's absolute lifetime from its sign-in, however often it is refreshed (ASVS 5 7.3.2);
   * fixed on the session when it starts. Refresh tokens never outlive it.
   */
  readonly sessionMaxLifetimeSeconds: number;
  /** Calling code such as "+91"; falls back to the deployment's DEFAULT_COUNTRY_CODE. */
  readonly defaultCountryCode: string;
  /**
   * ISO 3166-1 alpha-2 regions phone numbers may belong to, e.g. ["IN","US"]; ["*"] allows every
   * country. Default: the main country of the default calling code only (SMS pumping targets
   * numbers in countries a project never serves).
   */
  readonly allowedCountries: readonly string[];
  /** The project's WhatsApp OTP configurations by uid (the `{otp_config_uid}` of `/otp/{uid}/sendOTP`). */
  readonly whatsappConfigs: Readonly<Record<string, WhatsappConfig>>;

  // Abuse limits. Every one holds across Lambda containers: they are DynamoDB conditional writes.
  /** Seconds between two codes sent to one identifier (phone number or email). */
  readonly resendCooldownSeconds: number;
  readonly sendsPerIdentifierPerHour: number;
  readonly sendsPerIdentifierPerDay: number;
  /** Sends per end-user IP per hour (0 = off), where the style knows the end user's IP. */
  readonly sendsPerIpPerHour: number;
  /** Per-style overrides of sendsPerIpPerHour, e.g. {"mobile-email": 50}. */
  readonly sendsPerIpPerHourByStyle: Readonly<Record<string, number>>;
  /** Wrong codes per identifier per hour across all its codes; past it even the right code is refused until the hour ends. */
  readonly failedVerificationsPerIdentifierPerHour: number;
  /** Consecutive wrong codes per identifier before only a success or an operator clears it (NIST: at most 100). */
  readonly maxConsecutiveFailures: number;
  /** Project-wide spend caps (all environments together). */
  readonly smsPerHour: number;
  readonly smsPerDay: number;
  readonly whatsappPerHour: number;
  readonly whatsappPerDay: number;
  /** SMS and WhatsApp messages per destination country per hour. */
  readonly sendsPerCountryPerHour: number;
  /** Project-wide email caps (all environments together): SES reputation and quotas, not money. */
  readonly emailPerHour: number;
  readonly emailPerDay: number;
  /** Fixed codes for listed test numbers (E.164) and emails: nothing is sent, no limit applies. Empty where the environment does not allow them. */
  readonly testIdentifiers: Readonly<Record<string, string>>;
  readonly testIdentifierEnvironments: readonly string[];
  /** Login for an unknown identifier answers like a known one; signup for a known one answers 201 and texts the owner. */
  readonly concealUserExistence: boolean;
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
  /**
   * Whether the Twilio Verify API may send a code the caller chose (CustomCode). Off: such a code
   * is not drawn from otpgate's CSPRNG, and the app's backend knows it (and may log or store it).
   */
  readonly twilioVerifyCustomCode: boolean;
  /** The WhatsApp OTP configuration (uid) the Twilio Verify API's whatsapp channel sends with; none: the Twilio secret's whatsappFrom, plain text. */
  readonly twilioVerifyWhatsappConfig: string | undefined;
}

const count = (min: number, max: number) => v.optional(v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max)));
const E164 = /^\+[1-9][0-9]{6,14}$/;

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
/** A refresh token lives at most a year; revocation records are kept this long (see tokens/sessions.ts). */
export const MAX_REFRESH_TOKEN_TTL_SECONDS = 365 * 86_400;

/** A session lasts at most a year from its sign-in, whatever its refreshes. */
export const MAX_SESSION_LIFETIME_SECONDS = 365 * 86_400;

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
  verificationTokenTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(86_400))),
  refreshTokenTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(3_600), v.maxValue(MAX_REFRESH_TOKEN_TTL_SECONDS))),
  sessionMaxLifetimeSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(3_600), v.maxValue(MAX_SESSION_LIFETIME_SECONDS))),
  defaultCountryCode: v.optional(v.pipe(v.string(), v.regex(/^\+[1-9][0-9]{0,2}$/))),
  whatsappConfigs: v.optional(v.record(whatsappConfigUidSchema, whatsappConfigSchema)),
  allowedCountries: v.optional(v.union([v.tuple([v.literal('*')]), v.pipe(v.array(v.pipe(v.string(), v.regex(/^[A-Z]{2}$/))), v.minLength(1))])),
  resendCooldownSeconds: count(0, 3600),
  sendsPerIdentifierPerHour: count(1, 100),
  sendsPerIdentifierPerDay: count(1, 1000),
  sendsPerIpPerHour: count(0, 1_000_000),
  sendsPerIpPerHourByStyle: v.optional(v.record(// Only the styles that know the end user's IP: the mobile/email style (its caller is the user's
    // device) and Twilio Verify (DeviceIp). The others are called by a backend and pass no IP.
    v.picklist(['mobile-email', 'twilio-verify']), v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000)))),
  failedVerificationsPerIdentifierPerHour: count(1, 100),
  maxConsecutiveFailures: count(1, 100),
  smsPerHour: count(1, 10_000_000),
  smsPerDay: count(1, 100_000_000),
  whatsappPerHour: count(1, 10_000_000),
  whatsappPerDay: count(1, 100_000_000),
  sendsPerCountryPerHour: count(1, 10_000_000),
  emailPerHour: count(1, 10_000_000),
  emailPerDay: count(1, 100_000_000),
  testIdentifiers: v.optional(
    v.pipe(
      v.record(v.union([v.pipe(v.string(), v.regex(E164)), v.pipe(v.string(), v.trim(), v.toLowerCase(), v.email())]), v.pipe(v.string(), v.regex(/^[0-9]{4,10}$/))),
      v.maxEntries(100),
    ),
  ),
  testIdentifierEnvironments: v.optional(v.array(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/)))),
  concealUserExistence: v.optional(v.boolean()),
  // A display name only: the stack's IAM pins ses:FromAddress to the deployment's sender address.
  emailFromName: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(64), v.regex(/^[^"\\<>\u0000-\u001f\u007f]*$/))),
  emailSubject: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(150), v.regex(/^[^\r\n]*$/), knownPlaceholders)),
  smsTemplate: v.optional(messageTemplate(320)),
  whatsappTemplate: v.optional(messageTemplate(1000)),
  webOtpDomain: v.optional(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.regex(HOST_NAME))),
  twilioVerifyCustomCode: v.optional(v.boolean()),
  twilioVerifyWhatsappConfig: v.optional(whatsappConfigUidSchema),
});

export const settingDefaults = {
  appName: 'otpgate',
  codeLength: 6,
  otpTtlSeconds: 300,
  maxAttempts: 5,
  tokenTtlSeconds: 3600,
  verificationTokenTtlSeconds: 7200,
  whatsappConfigs: {} as Readonly<Record<string, WhatsappConfig>>,
  resendCooldownSeconds: 30,
  sendsPerIdentifierPerHour: 5,
  sendsPerIdentifierPerDay: 10,
  sendsPerIpPerHour: 20,
  sendsPerIpPerHourByStyle: {} as Readonly<Record<string, number>>,
  failedVerificationsPerIdentifierPerHour: 10,
  maxConsecutiveFailures: 100,
  smsPerHour: 1000,
  smsPerDay: 10_000,
  whatsappPerHour: 1000,
  whatsappPerDay: 10_000,
  sendsPerCountryPerHour: 500,
  emailPerHour: 1000,
  emailPerDay: 10_000,
  testIdentifiers: {} as Readonly<Record<string, string>>,
  testIdentifierEnvironments: ['development'] as readonly string[],
  concealUserExistence: false,
  refreshTokenTtlSeconds: 30 * 86_400,
  sessionMaxLifetimeSeconds: 90 * 86_400,
  twilioVerifyCustomCode: false,
  twilioVerifyWhatsappConfig: undefined as string | undefined,
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

const knownCountries = new Set<string>(getCountries());

/** The main country of a calling code ("+1" -> US, "+44" -> GB), as libphonenumber lists it first. */
export const mainCountryOf = (callingCode: string): string | undefined => {
  const region = (metadata as { country_calling_codes: Record<string, string[]> }).country_calling_codes[callingCode.replace(/^\+/, '')]?.[0];
  return region !== undefined && knownCountries.has(region as CountryCode) ? region : undefined;
};

/**
 * The settings a request runs with. `environment` decides whether the project's test identifiers
 * are live: only in the environments listed in testIdentifierEnvironments (default: development).
 */
export const resolveSettings = (stored: unknown, deploymentDefaultCountryCode: string, environment?: string): ProjectSettings => {
  const input = typeof stored === 'object' && stored !== null ? (stored as Record<string, unknown>) : {};
  const valid: Record<string, unknown> = {};
  // Field by field, so one bad value costs only that field its custom value.
  for (const [key, schema] of Object.entries(settingsSchema.entries)) {
    const result = v.safeParse(schema, input[key]);
    if (result.success && result.output !== undefined) valid[key] = result.output;
  }
  const defaultCountryCode = (valid.defaultCountryCode as string | undefined) ?? deploymentDefaultCountryCode;
  const mainCountry = mainCountryOf(defaultCountryCode);
  const testEnvironments = (valid.testIdentifierEnvironments as string[] | undefined) ?? settingDefaults.testIdentifierEnvironments;
  const codeLength = (valid.codeLength as number | undefined) ?? settingDefaults.codeLength;
  // A fixed code must be a code of the project's length, or it could never be typed in.
  // Emails are listed by their identity key, so a listed Gmail address covers its dotted and +tag forms, as it does for users and limits.
  const testIdentifiers = Object.fromEntries(
    Object.entries((valid.testIdentifiers as Record<string, string> | undefined) ?? {})
      .filter(([, code]) => code.length === codeLength)
      .map(([identifier, code]) => [identifier.includes('@') ? emailKey(identifier) : identifier, code]),
  );
  const refreshTokenTtlSeconds = (valid.refreshTokenTtlSeconds as number | undefined) ?? settingDefaults.refreshTokenTtlSeconds;
  return Object.freeze({
    ...settingDefaults,
    // Unset, the session lifetime follows a longer refresh token lifetime (a project that chose 180-day refresh tokens keeps 180-day sessions); set, it is the ceiling.
    sessionMaxLifetimeSeconds: Math.max(settingDefaults.sessionMaxLifetimeSeconds, refreshTokenTtlSeconds),
    ...valid,
    whatsappConfigs: resolveWhatsappConfigs(input.whatsappConfigs),
    defaultCountryCode,
    allowedCountries: (valid.allowedCountries as string[] | undefined) ?? (mainCountry ? [mainCountry] : ['*']),
    testIdentifiers: environment !== undefined && testEnvironments.includes(environment) ? testIdentifiers : {},
  }) as ProjectSettings;
};
