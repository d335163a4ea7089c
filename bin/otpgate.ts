import { App } from 'aws-cdk-lib';
import { OtpGateStack } from '#lib/otpgate-stack';

const app = new App();

/** Context values arrive as strings from `-c key=value` and as JSON from cdk.json; '' means unset. */
function optional(key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
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
});
