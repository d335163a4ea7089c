import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '#core/errors';

export type SecretName = 'pepper' | 'signing-key' | 'twilio';

/** Resolves a secret's value; undefined when the deployment has not configured that secret. */
export type SecretSource = (name: SecretName) => Promise<string | undefined>;

/** Local stack: one file per secret in a directory the local stack generates on first start. */
export const fileSecrets =
  (dir: string): SecretSource =>
  async (name) => {
    try {
      return (await readFile(join(dir, name), 'utf8')).trim();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };

/** AWS: Secrets Manager, by the secret ids the stack put in the environment. */
export const secretsManagerSecrets =
  (client: SecretsManagerClient, ids: Partial<Record<SecretName, string>>): SecretSource =>
  async (name) => {
    const id = ids[name];
    if (id === undefined) return undefined;
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: id }));
    return SecretString;
  };

/** Fetches once per container; a failed fetch is not cached, so the next request tries again. */
export const cached = <T>(load: () => Promise<T>): (() => Promise<T>) => {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
};

export const requiredSecret = async (source: SecretSource, name: SecretName): Promise<string> => {
  const value = await source(name);
  if (value === undefined || value === '') throw new ConfigError(`secret "${name}" is not configured`);
  return value;
};
