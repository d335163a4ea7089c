import { createHash, randomBytes } from 'node:crypto';
import { cancelledBy } from '#core/store/dynamo';
import type { Repository, TenantRef, VerifyServiceRecord } from '#core/store/repository';
import { NAME_PATTERN } from '#core/tenancy/projects';

/**
 * Twilio Verify services. An app built on Twilio Verify names a service by its ServiceSid (`VA` +
 * 32 hex) and authenticates as an account (`AC` + 32 hex) with a secret. In otpgate a ServiceSid
 * names one project and environment; the account id is that environment's (the same for all its
 * services, as all of a Twilio account's services share its id), and the secret is an APP-KEY of
 * that environment. Neither id is a secret: the APP-KEY is.
 */

export const SERVICE_SID = /^VA[0-9a-fA-F]{32}$/;
export const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;

/** Twilio's limit on a service's friendly name. */
export const MAX_FRIENDLY_NAME = 30;

/** Sids are stored with lower-case hex, as Twilio writes them; a client may send either case. */
export const canonicalSid = (sid: string): string => `${sid.slice(0, 2)}${sid.slice(2).toLowerCase()}`;

/**
 * The environment's account id, derived from its name so that it is stable (a service created by
 * the CLI today and one created next year name the same account) and needs no item of its own.
 */
export const verifyAccountSid = (tenant: TenantRef): string =>
  `AC${createHash('sha256').update(`otpgate twilio-verify account\0${tenant.projectId}\0${tenant.environment}`).digest('hex').slice(0, 32)}`;

export class EnvironmentNotFoundError extends Error {
  constructor(tenant: TenantRef, options?: { cause?: unknown }) {
    super(`otpgate: project ${tenant.projectId} has no environment ${tenant.environment}`, options);
    this.name = 'EnvironmentNotFoundError';
  }
}

/** Creates a Verify service for an existing project environment. */
export const createVerifyService = async (
  repo: Repository,
  tenant: TenantRef,
  input: { friendlyName?: string } = {},
  now: Date = new Date(),
): Promise<VerifyServiceRecord> => {
  if (!NAME_PATTERN.test(tenant.projectId) || !NAME_PATTERN.test(tenant.environment)) throw new EnvironmentNotFoundError(tenant);
  const friendlyName = (input.friendlyName ?? `${tenant.projectId} ${tenant.environment}`).trim().slice(0, MAX_FRIENDLY_NAME);
  const service: VerifyServiceRecord = {
    serviceSid: `VA${randomBytes(16).toString('hex')}`,
    accountSid: verifyAccountSid(tenant),
    projectId: tenant.projectId,
    environment: tenant.environment,
    friendlyName: friendlyName === '' ? tenant.projectId : friendlyName,
    createdAt: now.toISOString(),
  };
  try {
    await repo.putVerifyService(service);
  } catch (error) {
    if (cancelledBy(error, 0)) throw new EnvironmentNotFoundError(tenant, { cause: error });
    throw error;
  }
  return service;
};

export const listVerifyServices = (repo: Repository, tenant: TenantRef): Promise<VerifyServiceRecord[]> => repo.listVerifyServices(tenant);
