import { errors } from '#core/errors';
import { json, publicRoute, requestOrigin, tenantPath, type HttpEvent } from '#core/http/route';
import type { Repository, TenantRef } from '#core/store/repository';
import { issuerFor, jwksDocument, openidConfiguration, type SigningKey } from '#core/tokens/access-tokens';

/**
 * Public discovery documents of a project and environment (no APP-KEY): what a client or an API
 * Gateway JWT authorizer needs to verify otpgate's tokens. Unknown tenants get 404, which tells
 * that a project exists; that is the point of a public issuer, and project ids are not secrets.
 */
export interface DiscoveryDeps {
  readonly repo: Repository;
  readonly publicBaseUrl: string | undefined;
}

// Public keys change only with a rotation; let clients and CDNs keep them a few minutes.
const cacheable = { 'cache-control': 'public, max-age=300' };

const existingTenant = async (repo: Repository, event: HttpEvent): Promise<TenantRef> => {
  const tenant = tenantPath(event);
  if (!(await repo.environmentExists(tenant))) throw errors.projectNotFound();
  return tenant;
};

export const jwksRoute = (deps: DiscoveryDeps & { readonly signingKey: (tenant: TenantRef) => Promise<SigningKey> }) =>
  publicRoute(async (event) => {
    const tenant = await existingTenant(deps.repo, event);
    return json(200, jwksDocument([await deps.signingKey(tenant)]), cacheable);
  });

export const openidConfigurationRoute = (deps: DiscoveryDeps) =>
  publicRoute(async (event) => {
    const { projectId, environment } = await existingTenant(deps.repo, event);
    const issuer = issuerFor(requestOrigin(event, deps.publicBaseUrl), projectId, environment);
    return json(200, openidConfiguration(issuer), cacheable);
  });
