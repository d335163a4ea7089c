import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalServices, type LocalServices } from '../../local/services';

/**
 * Starts the real local services once for the whole run (DynamoDB Local in memory,
 * aws-ses-v2-local, the local Twilio endpoint) and exports their environment: the workers jest
 * forks afterwards inherit it, so every handler's production wiring points at them.
 */
export default async function globalSetup(): Promise<void> {
  const secretsDir = mkdtempSync(join(tmpdir(), 'otpgate-test-secrets-'));
  const services = await startLocalServices({ secretsDir, tableName: 'otpgate-test' });
  Object.assign(process.env, services.env, {
    PUBLIC_BASE_URL: 'https://otpgate.test',
    DEFAULT_COUNTRY_CODE: '+91',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  (globalThis as { otpgateServices?: LocalServices }).otpgateServices = services;
}
