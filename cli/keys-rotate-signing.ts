import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { fileSigningSecretStore, requestSigningKeyRotation } from '#core/tokens/signing-key-rotation';
import { KEY_CACHE_SECONDS, RotationTooSoonError, rotateSigningKey } from '#core/tokens/signing-keys';

/**
 * npm run keys:rotate-signing -- [--force] [--activate-now]      the local stack's key (OTPGATE_HOME, default .otp-local)
 * npm run keys:rotate-signing -- --secret-id <arn>               a deployed stack's key (Secrets Manager runs its rotation function)
 */

const usage = `Usage: npm run keys:rotate-signing -- [--force] [--activate-now] | --secret-id <SigningKeySecretArn>
  Locally, rotates the signing key in $OTPGATE_HOME/secrets (default .otp-local/secrets).
  --force          rotate although the last rotation was less than a day ago (tokens signed with the key it drops stop verifying)
  --activate-now   sign with the new key as soon as the server re-reads the secret, instead of 10 minutes later
  --secret-id      rotate a deployed stack's key instead (the stack's SigningKeySecretArn output)`;

const main = async () => {
  const { values } = parseArgs({
    options: {
      force: { type: 'boolean', default: false },
      'activate-now': { type: 'boolean', default: false },
      'secret-id': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  if (values['secret-id'] !== undefined) {
    await requestSigningKeyRotation(new SecretsManagerClient({}), values['secret-id']);
    console.log('Secrets Manager is rotating the signing key. The new key is published at once and signs 10 minutes later;\nevery function re-reads it within 5 minutes. Tokens signed with the old key keep verifying.');
    return;
  }
  const home = resolve(process.env.OTPGATE_HOME ?? join(process.cwd(), '.otp-local'));
  const result = await rotateSigningKey(fileSigningSecretStore(join(home, 'secrets')), {
    force: values.force,
    ...(values['activate-now'] ? { activationDelaySeconds: 0 } : {}),
  });
  console.log(`Rotated the signing key in ${join(home, 'secrets')}.
  A running \`npm start\` re-reads it within ${KEY_CACHE_SECONDS / 60} minutes and then publishes both keys in every JWKS.
  New tokens are signed with the new key from ${result.activatesAt.toISOString()}; tokens signed with the old one keep verifying.`);
};

main().catch((error: unknown) => {
  console.error(error instanceof RotationTooSoonError || (error instanceof Error && error.name === 'ConfigError') ? error.message : error);
  process.exit(1);
});
