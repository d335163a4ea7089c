import { errors } from '#core/errors';
import { json, publicRoute, requestOrigin, tenantPath, type HttpEvent } from '#core/http/route';
import type { Repository, TenantRef } from '#core/store/repository';
import { issuerFor, jwksDocument, openidConfiguration, type SigningKey } from '#core/tokens/access-tokens';
import { JWKS_MAX_AGE_SECONDS } from '#core/tokens/signing-keys';

/**
 * Public discovery documents of a project and environment (no APP-KEY): what a client or an API
 * Gateway JWT authorizer needs to verify otpgate's tokens. Unknown tenants get 404, which tells
 * that a project exists; that is the point of a public issuer, and project ids are not secrets.
 */
export interface DiscoveryDeps {
  readonly repo: Repository;
  readonly publicBaseUrl: string | undefined;
}

// Public keys change only with a rotation, whose new key signs only once such copies have expired (signing-keys.ts).
const cacheable = { 'cache-control': `public, max-age=${JWKS_MAX_AGE_SECONDS}` };

const existingTenant = async (repo: Repository, event: HttpEvent): Promise<TenantRef> => {
  const tenant = tenantPath(event);
  if (!(await repo.environmentExists(tenant))) throw errors.projectNotFound();
  return tenant;
};

export const jwksRoute = (deps: DiscoveryDeps & { readonly verificationKeys: (tenant: TenantRef) => Promise<readonly SigningKey[]> }) =>
  publicRoute(async (event) => {
    const tenant = await existingTenant(deps.repo, event);
    // The key signing now first, then the previous one (until the next rotation drops it).
    return json(200, jwksDocument(await deps.verificationKeys(tenant)), cacheable);
  });

export const openidConfigurationRoute = (deps: DiscoveryDeps) =>
  publicRoute(async (event) => {
    const { projectId, environment } = await existingTenant(deps.repo, event);
    const issuer = issuerFor(requestOrigin(event, deps.publicBaseUrl), projectId, environment);
    return json(200, openidConfiguration(issuer), cacheable);
  });
