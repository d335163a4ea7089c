import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OtpGateStack } from '#lib/otpgate-stack';

const app = new App();

/** Context values arrive as strings from `-c key=value` and as JSON from cdk.json; '' means unset. */
function optional(key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** `false`/`off`/`no` (any case) turn a feature off; anything else, or nothing, leaves it on. */
function flag(key: string): boolean | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === '') return undefined;
  return !['false', 'off', 'no', '0'].includes(String(value).trim().toLowerCase());
}

function list(key: string): string[] | undefined {
  const value: unknown = app.node.tryGetContext(key);
  const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [];
  const trimmed = items.map((item) => item.trim()).filter(Boolean);
  return trimmed.length > 0 ? trimmed : undefined;
}

new OtpGateStack(app, optional('otpgate:stackName') ?? 'OtpGate', {
  // Environment-agnostic unless the CLI resolved an account/region: synth never needs AWS.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  senderEmail: optional('otpgate:senderEmail') ?? 'no-reply@example.com',
  defaultCountryCode: optional('otpgate:defaultCountryCode') ?? '+91',
  twilioSecretName: optional('otpgate:twilioSecretName'),
  corsAllowOrigins: list('otpgate:corsAllowOrigins'),
  publicBaseUrl: optional('otpgate:publicBaseUrl'),
  alarmEmail: optional('otpgate:alarmEmail'),
  tracing: flag('otpgate:tracing'),
  routeMetrics: flag('otpgate:routeMetrics'),
});

// AWS Solutions checks on every synth: a new finding stops synthesis until it is fixed or acknowledged with its reason.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
