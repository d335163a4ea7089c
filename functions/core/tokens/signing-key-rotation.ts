import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  RotateSecretCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { log } from '#core/log';
import { parseKeyMaterial, rotateKeyMaterial, serialiseKeyMaterial, checkKeyMaterial, type SigningSecretStore } from '#core/tokens/signing-keys';

/**
 * The two places a signing-key rotation runs: a Secrets Manager rotation (the stack's rotation
 * function, every 90 days or on demand) and the local stack's secret file.
 */

/** The event Secrets Manager sends a rotation function, once per step. */
export interface RotationEvent {
  readonly Step: 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
  readonly SecretId: string;
  readonly ClientRequestToken: string;
}

export interface RotationDeps {
  readonly client: SecretsManagerClient;
  readonly now?: () => number;
}

/**
 * One step of Secrets Manager's four-step rotation, for the signing-key secret. Only createSecret
 * and finishSecret do anything: there is no external system to update (setSecret), and testSecret
 * checks that the pending value parses and derives a key. Every step may be retried, so each one
 * is idempotent. The secret stays readable as AWSCURRENT throughout, and the pending version
 * carries the previous seed along, so tokens signed before the rotation keep verifying.
 */
export const rotationStep = async (deps: RotationDeps, event: RotationEvent): Promise<void> => {
  const { client } = deps;
  const { SecretId, ClientRequestToken: token, Step } = event;
  const described = await client.send(new DescribeSecretCommand({ SecretId }));
  if (described.RotationEnabled === false) throw new Error(`otpgate: rotation is not enabled for the signing-key secret`);
  const stages = described.VersionIdsToStages?.[token];
  if (!stages) throw new Error('otpgate: the rotation names a version the signing-key secret does not have');
  if (stages.includes('AWSCURRENT')) return; // this version is already current: a retried, finished rotation
  if (!stages.includes('AWSPENDING')) throw new Error('otpgate: the rotation version is not pending');

  switch (Step) {
    case 'createSecret': {
      try {
        await client.send(new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' }));
        return; // created by an earlier attempt of this step
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
      }
      const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId, VersionStage: 'AWSCURRENT' }));
      // Secrets Manager decides when to rotate (schedule or an operator's "rotate now"): never refuse it.
      const rotated = rotateKeyMaterial(parseKeyMaterial(SecretString ?? ''), { now: (deps.now ?? Date.now)(), force: true });
      await client.send(
        new PutSecretValueCommand({ SecretId, ClientRequestToken: token, SecretString: serialiseKeyMaterial(rotated), VersionStages: ['AWSPENDING'] }),
      );
      log.info('signing key rotation created', { activatesAt: rotated.activatesAt });
      return;
    }
    case 'setSecret':
      return;
    case 'testSecret': {
      const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' }));
      await checkKeyMaterial(parseKeyMaterial(SecretString ?? ''));
      return;
    }
    case 'finishSecret': {
      const current = Object.entries(described.VersionIdsToStages ?? {}).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          ...(current === undefined ? {} : { RemoveFromVersionId: current }),
        }),
      );
      log.info('signing key rotated');
      return;
    }
    default:
      throw new Error(`otpgate: unknown rotation step ${String(Step)}`);
  }
};

/** Asks Secrets Manager to rotate the deployed signing key now (it runs the stack's rotation function). */
export const requestSigningKeyRotation = async (client: SecretsManagerClient, secretId: string): Promise<void> => {
  await client.send(new RotateSecretCommand({ SecretId: secretId, RotateImmediately: true }));
};

/** The local stack's signing-key secret: the file `signing-key` in its secrets directory, replaced atomically. */
export const fileSigningSecretStore = (secretsDir: string): SigningSecretStore => {
  const file = join(secretsDir, 'signing-key');
  return {
    async read() {
      try {
        return await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async write(value) {
      // A reader (the running local server) sees either the old file or the new one, never half of one.
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, value, { mode: 0o600 });
      await chmod(temporary, 0o600);
      await rename(temporary, file);
    },
  };
};
