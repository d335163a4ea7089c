import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '#core/errors';

/** A secret that belongs to one project, e.g. its own Twilio account: `projects/<projectId>/twilio`. */
export type ProjectSecretName = `projects/${string}/${'twilio'}`;

export type SecretName = 'pepper' | 'signing-key' | 'twilio' | ProjectSecretName;

export const projectSecretName = (projectId: string, what: 'twilio'): ProjectSecretName => `projects/${projectId}/${what}`;

const isProjectSecret = (name: SecretName): name is ProjectSecretName => name.startsWith('projects/');

/** Resolves a secret's value; undefined when the deployment has not configured that secret. */
export type SecretSource = (name: SecretName) => Promise<string | undefined>;

/** Local stack: one file per secret in a directory the local stack generates on first start (project secrets in projects/<id>/). */
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

/**
 * AWS: Secrets Manager, by the secret ids the stack put in the environment. A project's own
 * secrets are named `<projectPrefix>projects/<id>/<what>` (PROJECT_SECRET_PREFIX, e.g.
 * `otpgate/OtpGate/`); one that does not exist is simply not configured.
 */
export const secretsManagerSecrets =
  (client: SecretsManagerClient, ids: Partial<Record<'pepper' | 'signing-key' | 'twilio', string>>, options: { projectPrefix?: string | undefined } = {}): SecretSource =>
  async (name) => {
    if (isProjectSecret(name)) {
      if (options.projectPrefix === undefined) return undefined;
      try {
        const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: `${options.projectPrefix}${name}` }));
        return SecretString;
      } catch (error) {
        if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
        throw error;
      }
    }
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
