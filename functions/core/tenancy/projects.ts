import { appKeyId, generateAppKey, hashAppKey } from '#core/tenancy/app-keys';
import type { Repository } from '#core/store/repository';

/** Project ids and environment names are path segments of every URL: keep them boring. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface CreatedProject {
  readonly projectId: string;
  /** Shown once: only their hashes are stored. */
  readonly keys: readonly { readonly environment: string; readonly appKey: string; readonly keyId: string }[];
}

export const createProject = async (
  repo: Repository,
  input: { projectId: string; name?: string; environments: readonly string[]; settings?: Record<string, unknown> },
  now: Date = new Date(),
): Promise<CreatedProject> => {
  if (!NAME_PATTERN.test(input.projectId)) {
    throw new Error(`otpgate: project id "${input.projectId}" must be lower-case letters, digits and dashes (max 63)`);
  }
  const environments = [...new Set(input.environments)];
  if (environments.length === 0) throw new Error('otpgate: a project needs at least one environment');
  for (const env of environments) {
    if (!NAME_PATTERN.test(env)) throw new Error(`otpgate: environment "${env}" must be lower-case letters, digits and dashes (max 63)`);
  }
  const keys = environments.map((environment) => {
    const appKey = generateAppKey();
    return { environment, appKey, keyId: appKeyId(appKey) };
  });
  await repo.createProject(
    {
      projectId: input.projectId,
      name: input.name ?? input.projectId,
      settings: input.settings ?? {},
      environments: keys.map((k) => ({ environment: k.environment, keyHash: hashAppKey(k.appKey), keyId: k.keyId })),
    },
    now,
  );
  return { projectId: input.projectId, keys };
};

/** Issues another key for an existing project's environment; returns it once. */
export const issueAppKey = async (repo: Repository, tenant: { projectId: string; environment: string }, now: Date = new Date()): Promise<string> => {
  if (!NAME_PATTERN.test(tenant.environment)) throw new Error(`otpgate: environment "${tenant.environment}" must be lower-case letters, digits and dashes (max 63)`);
  const appKey = generateAppKey();
  await repo.addAppKey(tenant, hashAppKey(appKey), appKeyId(appKey), now);
  return appKey;
};
