import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { deadlineClient } from '#core/aws-clients';
import { loadConfig, type Config } from '#core/config';
import { createEngine, type Engine } from '#core/otp/engine';
import { emfMetrics, type OtpMetrics } from '#core/observability/metrics';
import { traced } from '#core/observability/tracing';
import { createKeyTenantResolver, createTenantResolver, type TenantResolver } from '#core/http/route';
import { createCounterStore, type CounterStore } from '#core/store/counters';
import { createIdentityStore, type IdentityStore } from '#core/store/identities';
import { createRepository, type Repository, type TenantRef } from '#core/store/repository';
import { cached, fileSecrets, requiredSecret, secretsManagerSecrets, type SecretSource } from '#core/secrets';
import { createSessionStore } from '#core/store/sessions';
import { createVerificationStore, type VerificationStore } from '#core/store/verifications';
import type { SigningKey } from '#core/tokens/access-tokens';
import { createSessions, type Sessions } from '#core/tokens/sessions';
import { createTenantKeys } from '#core/tokens/signing-keys';

/**
 * The production wiring, built once per container: config from the environment (a missing
 * variable fails here, at cold start, with its name), AWS clients, secrets fetched lazily and
 * cached. Endpoints come from the SDK's own AWS_ENDPOINT_URL_* variables, so the local stack
 * needs no code path of its own.
 */
export interface Runtime {
  readonly config: Config;
  readonly repo: Repository;
  readonly identities: IdentityStore;
  readonly counters: CounterStore;
  readonly secrets: SecretSource;
  readonly pepper: () => Promise<Uint8Array>;
  /** The key one project and environment signs with now; the secret is re-read every 5 minutes (rotation). */
  readonly signingKey: (tenant: TenantRef) => Promise<SigningKey>;
  /** Its published keys (current and previous): the JWKS, and what access tokens are checked against. */
  readonly verificationKeys: (tenant: TenantRef) => Promise<readonly SigningKey[]>;
  /** Refresh tokens: start, refresh (rotate), revoke. */
  readonly sessions: Sessions;
  /** APP-KEY plus /auth/{project}/{environment} in the path (the mobile/email style). */
  readonly tenants: TenantResolver;
  /** The key alone picks the tenant (styles whose URLs name no project). */
  readonly keyTenants: TenantResolver;
  readonly engine: Engine;
  /** OTP outcomes as CloudWatch metrics (EMF lines in the log). */
  readonly metrics: OtpMetrics;
  /** What the Twilio Verify API shows of its verifications. */
  readonly verifications: VerificationStore;
}

export const createRuntime = (config: Config = loadConfig()): Runtime => {
  // Timeouts and retries from each request's deadline (aws-clients.ts): no client waits on a stalled service.
  // traced(): each call an X-Ray subsegment where tracing is on (functions/core/observability/tracing.ts).
  const doc = DynamoDBDocumentClient.from(traced(deadlineClient('dynamodb', (options) => new DynamoDBClient(options))), { marshallOptions: { removeUndefinedValues: true } });
  const repo = createRepository(doc, config.tableName);
  const identities = createIdentityStore(doc, config.tableName);
  const counters = createCounterStore(doc, config.tableName);
  const secrets =
    config.secretsDir !== undefined
      ? fileSecrets(config.secretsDir)
      : secretsManagerSecrets(traced(deadlineClient('secrets', (options) => new SecretsManagerClient(options))), {
          pepper: config.pepperSecretId,
          'signing-key': config.signingKeySecretId,
          twilio: config.twilioSecretId,
        }, { projectPrefix: config.projectSecretPrefix });
  const pepper = cached(async () => Buffer.from(await requiredSecret(secrets, 'pepper'), 'utf8'));
  const { signingKey, verificationKeys } = createTenantKeys({ loadSecret: () => requiredSecret(secrets, 'signing-key') });
  const metrics = emfMetrics();
  return {
    config,
    repo,
    identities,
    counters,
    secrets,
    pepper,
    signingKey,
    verificationKeys,
    sessions: createSessions({ store: createSessionStore(doc, config.tableName) }),
    tenants: createTenantResolver(repo, config.defaultCountryCode),
    keyTenants: createKeyTenantResolver(repo, config.defaultCountryCode),
    engine: createEngine({ identities, counters, pepper, metrics }),
    metrics,
    verifications: createVerificationStore(doc, config.tableName),
  };
};

let shared: Runtime | undefined;

/** One runtime per process: a Lambda container, or the local server serving every route. */
export const runtime = (): Runtime => (shared ??= createRuntime());
