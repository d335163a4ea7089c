import { ConfigError } from '#core/errors';

/** Deployment-wide settings, read once from the environment at cold start. Per-project settings live in DynamoDB. */
export interface Config {
  readonly tableName: string;
  /** Calling code used when a request has no country_code and the project sets none, e.g. "+91". */
  readonly defaultCountryCode: string;
  readonly senderEmail: string | undefined;
  /** Overrides the issuer's origin (custom domain); otherwise the request's own domain is used. */
  readonly publicBaseUrl: string | undefined;
  /** Secret ids in Secrets Manager (AWS) ... */
  readonly pepperSecretId: string | undefined;
  readonly signingKeySecretId: string | undefined;
  readonly twilioSecretId: string | undefined;
  /** Where projects' own secrets live in Secrets Manager, e.g. "otpgate/OtpGate/" (then "projects/<id>/twilio"). */
  readonly projectSecretPrefix: string | undefined;
  /** ... or a directory of secret files (local stack only). */
  readonly secretsDir: string | undefined;
  /** Local stack only: where Twilio requests go instead of https://api.twilio.com. */
  readonly twilioApiBaseUrl: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

const optional = (env: Env, name: string): string | undefined => {
  const value = env[name]?.trim();
  return value === '' ? undefined : value;
};

export const requireEnv = (env: Env, name: string): string => {
  const value = optional(env, name);
  if (value === undefined) throw new ConfigError(`missing environment variable ${name}`);
  return value;
};

/** For settings only some functions need: fails at their cold start, naming the variable. */
export const requireValue = <T>(value: T | undefined, name: string): T => {
  if (value === undefined) throw new ConfigError(`missing environment variable ${name}`);
  return value;
};

export const loadConfig = (env: Env = process.env): Config =>
  Object.freeze({
    tableName: requireEnv(env, 'TABLE_NAME'),
    defaultCountryCode: optional(env, 'DEFAULT_COUNTRY_CODE') ?? '+91',
    senderEmail: optional(env, 'SENDER_EMAIL'),
    publicBaseUrl: optional(env, 'PUBLIC_BASE_URL')?.replace(/\/+$/, ''),
    pepperSecretId: optional(env, 'PEPPER_SECRET_ID'),
    signingKeySecretId: optional(env, 'SIGNING_KEY_SECRET_ID'),
    twilioSecretId: optional(env, 'TWILIO_SECRET_ID'),
    projectSecretPrefix: optional(env, 'PROJECT_SECRET_PREFIX'),
    secretsDir: optional(env, 'OTPGATE_SECRETS_DIR'),
    twilioApiBaseUrl: optional(env, 'TWILIO_API_BASE_URL')?.replace(/\/+$/, ''),
  });
