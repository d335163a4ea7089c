import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { projectSecretName } from '#core/secrets';

/**
 * Where a project's own Twilio account is kept: the same names the functions read
 * (`projects/<id>/twilio`), as a file of the local stack's secrets directory or as a Secrets
 * Manager secret under the stack's prefix. Never in the table.
 */
export interface ProjectSecretStore {
  /** The file or secret name, for the operator. */
  readonly nameOf: (projectId: string) => string;
  readonly get: (projectId: string) => Promise<string | undefined>;
  readonly put: (projectId: string, value: string) => Promise<void>;
  /** False when there was nothing to remove. */
  readonly remove: (projectId: string) => Promise<boolean>;
}

export const fileProjectSecrets = (dir: string): ProjectSecretStore => {
  const fileOf = (projectId: string) => join(dir, projectSecretName(projectId, 'twilio'));
  const get = async (projectId: string) => {
    try {
      return await readFile(fileOf(projectId), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  return {
    nameOf: fileOf,
    get,
    async put(projectId, value) {
      const file = fileOf(projectId);
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      // Written aside and renamed, so a running stack never reads half a secret.
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, value, { mode: 0o600 });
      await chmod(temporary, 0o600);
      await rename(temporary, file);
    },
    async remove(projectId) {
      const file = fileOf(projectId);
      const existed = (await get(projectId)) !== undefined;
      await rm(file, { force: true });
      return existed;
    },
  };
};

const named = (error: unknown, name: string) => (error as { name?: string } | null)?.name === name;
const scheduledForDeletion = (error: unknown) => named(error, 'InvalidRequestException') && /deletion/i.test((error as Error).message);

/** `prefix` is the stack's ProjectSecretPrefix output, e.g. `otpgate/OtpGate/`. */
export const secretsManagerProjectSecrets = (client: SecretsManagerClient, prefix: string): ProjectSecretStore => {
  const nameOf = (projectId: string) => `${prefix}${projectSecretName(projectId, 'twilio')}`;
  return {
    nameOf,
    async get(projectId) {
      try {
        return (await client.send(new GetSecretValueCommand({ SecretId: nameOf(projectId) }))).SecretString;
      } catch (error) {
        if (named(error, 'ResourceNotFoundException') || scheduledForDeletion(error)) return undefined;
        throw error;
      }
    },
    async put(projectId, value) {
      const Name = nameOf(projectId);
      try {
        await client.send(
          new CreateSecretCommand({
            Name,
            SecretString: value,
            Description: `otpgate: Twilio account of project ${projectId}`,
            Tags: [{ Key: 'otpgate:project', Value: projectId }],
          }),
        );
        return;
      } catch (error) {
        if (scheduledForDeletion(error)) await client.send(new RestoreSecretCommand({ SecretId: Name }));
        else if (!named(error, 'ResourceExistsException')) throw error;
      }
      await client.send(new PutSecretValueCommand({ SecretId: Name, SecretString: value }));
    },
    async remove(projectId) {
      try {
        // Without recovery: a secret pending deletion cannot be read, and the senders would fail instead of
        // falling back to the stack's account.
        await client.send(new DeleteSecretCommand({ SecretId: nameOf(projectId), ForceDeleteWithoutRecovery: true }));
        return true;
      } catch (error) {
        if (named(error, 'ResourceNotFoundException')) return false;
        throw error;
      }
    },
  };
};
