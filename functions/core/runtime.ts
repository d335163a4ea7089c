import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadConfig, type Config } from '#core/config';
import { createEngine, type Engine } from '#core/otp/engine';
import { createKeyTenantResolver, createTenantResolver, type TenantResolver } from '#core/http/route';
import { createCounterStore, type CounterStore } from '#core/store/counters';
import { createIdentityStore, type IdentityStore } from '#core/store/identities';
import { createRepository, type Repository, type TenantRef } from '#core/store/repository';
import { cached, fileSecrets, requiredSecret, secretsManagerSecrets, type SecretSource } from '#core/secrets';
import { signingKeyFromSeed, type SigningKey } from '#core/tokens/access-tokens';

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
  /** The signing key of one project and environment, derived once per container. */
  readonly signingKey: (tenant: TenantRef) => Promise<SigningKey>;
  /** APP-KEY plus /auth/{project}/{environment} in the path (the mobile/email style). */
  readonly tenants: TenantResolver;
  /** The key alone picks the tenant (styles whose URLs name no project). */
  readonly keyTenants: TenantResolver;
  readonly engine: Engine;
}

export const createRuntime = (config: Config = loadConfig()): Runtime => {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  const repo = createRepository(doc, config.tableName);
  const identities = createIdentityStore(doc, config.tableName);
  const counters = createCounterStore(doc, config.tableName);
  const secrets =
    config.secretsDir !== undefined
      ? fileSecrets(config.secretsDir)
      : secretsManagerSecrets(new SecretsManagerClient({}), {
          pepper: config.pepperSecretId,
          'signing-key': config.signingKeySecretId,
          twilio: config.twilioSecretId,
        }, { projectPrefix: config.projectSecretPrefix });
  const pepper = cached(async () => Buffer.from(await requiredSecret(secrets, 'pepper'), 'utf8'));
  const seed = cached(() => requiredSecret(secrets, 'signing-key'));
  const keys = new Map<string, () => Promise<SigningKey>>();
  const signingKey = (tenant: TenantRef) => {
    const id = `${tenant.projectId}\0${tenant.environment}`;
    let key = keys.get(id);
    if (!key) {
      key = cached(async () => signingKeyFromSeed(await seed(), tenant));
      keys.set(id, key);
    }
    return key();
  };
  return {
    config,
    repo,
    identities,
    counters,
    secrets,
    pepper,
    signingKey,
    tenants: createTenantResolver(repo, config.defaultCountryCode),
    keyTenants: createKeyTenantResolver(repo, config.defaultCountryCode),
    engine: createEngine({ identities, counters, pepper }),
  };
};

let shared: Runtime | undefined;

/** One runtime per process: a Lambda container, or the local server serving every route. */
export const runtime = (): Runtime => (shared ??= createRuntime());
