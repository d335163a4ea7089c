import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { withLogContext } from '#core/log';
import { traced, withTracing } from '#core/observability/tracing';
import { rotationStep, type RotationDeps, type RotationEvent } from '#core/tokens/signing-key-rotation';

/**
 * Secrets Manager's rotation function for the signing-key secret (not an HTTP route): invoked once
 * per rotation step, every 90 days or when an operator rotates the secret.
 */
export const makeHandler = (deps: RotationDeps) => {
  const run = withTracing((event: RotationEvent) => withLogContext({ rotationStep: event.Step }, () => rotationStep(deps, event)));
  return (event: RotationEvent) => run(event, undefined);
};

export const handler = makeHandler({ client: traced(new SecretsManagerClient({})) });
