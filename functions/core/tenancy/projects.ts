import { appKeyId, generateAppKey, hashAppKey } from '#core/tenancy/app-keys';
import { parseSettingsInput } from '#core/tenancy/settings-input';
import { ProjectNotFoundError, type AppKeyListing, type Repository, type TenantRef } from '#core/store/repository';

/** Project ids and environment names are path segments of every URL: keep them boring. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A project and its environments are written in one transaction of at most 100 items (3 per environment). */
export const MAX_ENVIRONMENTS_AT_CREATION = 25;

/** How long a rotated key may keep working next to its successor. */
export const MAX_GRACE_SECONDS = 7 * 86_400;

const checkEnvironmentName = (environment: string) => {
  if (!NAME_PATTERN.test(environment)) throw new Error(`otpgate: environment "${environment}" must be lower-case letters, digits and dashes (max 63)`);
};

const newKey = () => {
  const appKey = generateAppKey();
  return { appKey, keyHash: hashAppKey(appKey), keyId: appKeyId(appKey) };
};

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
  if (environments.length > MAX_ENVIRONMENTS_AT_CREATION) {
    throw new Error(`otpgate: at most ${MAX_ENVIRONMENTS_AT_CREATION} environments at creation; add more later`);
  }
  environments.forEach(checkEnvironmentName);
  const settings = parseSettingsInput(input.settings ?? {});
  const keys = environments.map((environment) => {
    const appKey = generateAppKey();
    return { environment, appKey, keyId: appKeyId(appKey) };
  });
  await repo.createProject(
    {
      projectId: input.projectId,
      name: input.name ?? input.projectId,
      settings,
      environments: keys.map((k) => ({ environment: k.environment, keyHash: hashAppKey(k.appKey), keyId: k.keyId })),
    },
    now,
  );
  return { projectId: input.projectId, keys };
};

/** Issues another key for an existing project's environment; returns it once. */
export const issueAppKey = async (repo: Repository, tenant: { projectId: string; environment: string }, now: Date = new Date()): Promise<string> => {
  checkEnvironmentName(tenant.environment);
  const { appKey, keyHash, keyId } = newKey();
  await repo.addAppKey(tenant, keyHash, keyId, now);
  return appKey;
};

export interface IssuedKey {
  readonly environment: string;
  /** Shown once: only its hash is stored. */
  readonly appKey: string;
  readonly keyId: string;
}

/** A new environment of an existing project, with its first key. */
export const addEnvironment = async (repo: Repository, tenant: TenantRef, now: Date = new Date()): Promise<IssuedKey> => {
  checkEnvironmentName(tenant.environment);
  const { appKey, keyHash, keyId } = newKey();
  await repo.addEnvironment(tenant, keyHash, keyId, now);
  return { environment: tenant.environment, appKey, keyId };
};

const requireProject = async (repo: Repository, projectId: string) => {
  const project = await repo.findProject(projectId);
  if (!project) throw new ProjectNotFoundError(projectId);
  return project;
};

const requireEnvironment = async (repo: Repository, tenant: TenantRef) => {
  await requireProject(repo, tenant.projectId);
  if (!(await repo.environmentExists(tenant))) {
    throw new Error(`otpgate: project ${tenant.projectId} has no environment ${tenant.environment}`);
  }
};

/** A further key for an environment that exists; a mistyped environment is refused rather than created. */
export const createAppKey = async (repo: Repository, tenant: TenantRef, now: Date = new Date()): Promise<IssuedKey> => {
  checkEnvironmentName(tenant.environment);
  await requireEnvironment(repo, tenant);
  const appKey = await issueAppKey(repo, tenant, now);
  return { environment: tenant.environment, appKey, keyId: appKeyId(appKey) };
};

export const listAppKeys = async (repo: Repository, projectId: string, environment?: string): Promise<AppKeyListing[]> => {
  await requireProject(repo, projectId);
  const keys = await repo.listAppKeys(projectId, environment);
  return keys.sort((a, b) => a.environment.localeCompare(b.environment) || a.createdAt.localeCompare(b.createdAt));
};

/** Deletes a key by its id; it stops working at once for new containers, within the key cache's TTL for warm ones. */
export const revokeAppKey = async (repo: Repository, projectId: string, keyId: string): Promise<AppKeyListing> => {
  const key = (await listAppKeys(repo, projectId)).find((k) => k.keyId === keyId);
  if (!key || !(await repo.revokeAppKey(key))) throw new Error(`otpgate: project ${projectId} has no key ${keyId}`);
  return key;
};

export interface Rotation {
  readonly issued: IssuedKey;
  readonly replaced: AppKeyListing;
  /** When the replaced key stops working, if it was given a grace period (epoch ms). */
  readonly replacedExpiresAt?: number;
}

/**
 * A new key for the environment, and the old one revoked in the same transaction, or kept working
 * for `graceSeconds` so apps can move to the new key first. With several keys, `keyId` says which.
 */
export const rotateAppKey = async (
  repo: Repository,
  tenant: TenantRef,
  options: { keyId?: string | undefined; graceSeconds?: number | undefined } = {},
  now: Date = new Date(),
): Promise<Rotation> => {
  checkEnvironmentName(tenant.environment);
  await requireEnvironment(repo, tenant);
  const grace = options.graceSeconds;
  if (grace !== undefined && (!Number.isInteger(grace) || grace < 1 || grace > MAX_GRACE_SECONDS)) {
    throw new Error(`otpgate: the grace period must be 1 second to ${MAX_GRACE_SECONDS / 86_400} days`);
  }
  // A key already on its way out is not rotated again.
  const live = (await repo.listAppKeys(tenant.projectId, tenant.environment)).filter((k) => k.expiresAt === undefined);
  const where = `${tenant.projectId}/${tenant.environment}`;
  const old = options.keyId === undefined ? live[0] : live.find((k) => k.keyId === options.keyId);
  if (options.keyId !== undefined && !old) throw new Error(`otpgate: ${where} has no key ${options.keyId}`);
  if (!old) throw new Error(`otpgate: ${where} has no key to rotate; create one instead`);
  if (options.keyId === undefined && live.length > 1) {
    throw new Error(`otpgate: ${where} has ${live.length} keys (${live.map((k) => k.keyId).join(', ')}); name the one to replace`);
  }
  const { appKey, keyHash, keyId } = newKey();
  const expiresAt = grace === undefined ? undefined : now.getTime() + grace * 1000;
  if (!(await repo.replaceAppKey(old, { keyHash, keyId }, now, expiresAt))) {
    throw new Error(`otpgate: key ${old.keyId} of ${where} was revoked or rotated meanwhile; nothing changed`);
  }
  return {
    issued: { environment: tenant.environment, appKey, keyId },
    replaced: old,
    ...(expiresAt === undefined ? {} : { replacedExpiresAt: expiresAt }),
  };
};

/**
 * Changes some settings and removes others (back to their defaults). The whole result is
 * validated before anything is written, so a wrong value leaves the stored settings untouched.
 */
export const changeSettings = async (
  repo: Repository,
  projectId: string,
  change: { set?: Record<string, unknown>; unset?: readonly string[] },
): Promise<Record<string, unknown>> => {
  const project = await requireProject(repo, projectId);
  const next: Record<string, unknown> = { ...project.settings, ...change.set };
  for (const name of change.unset ?? []) delete next[name];
  const settings = parseSettingsInput(next);
  await repo.updateSettings(projectId, settings, project.settingsRevision ?? 0);
  return settings;
};

