import { errors } from '#core/errors';
import { requestOrigin, type HttpEvent } from '#core/http/route';
import type { Engine, Tenant, VerifyOptions } from '#core/otp/engine';
import type { Identity } from '#core/otp/identity';
import type { TenantRef } from '#core/store/repository';
import { issuerFor, issueAccessToken, type SigningKey } from '#core/tokens/access-tokens';

/** What every token-issuing style needs besides its tenant resolver. */
export interface TokenDeps {
  readonly engine: Engine;
  readonly signingKey: (tenant: TenantRef) => Promise<SigningKey>;
  readonly publicBaseUrl: string | undefined;
  readonly now?: () => number;
}

export interface IssuedToken {
  readonly userId: string;
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly expiresAt: Date;
}

/**
 * Verifies a code and issues the access token, in the one order that is safe: the signing key is
 * loaded before the code is consumed, so a key that cannot be loaded never costs the user their
 * code. Every style that returns a token goes through here, so they all issue the same token.
 */
export const verifyAndIssue = async (
  deps: TokenDeps,
  event: HttpEvent,
  tenant: Tenant,
  identity: Identity,
  code: string,
  options: { readonly claims: Record<string, string>; readonly ttlSeconds: number; readonly verify?: VerifyOptions },
): Promise<IssuedToken> => {
  const key = await deps.signingKey(tenant);
  const { userId } = await deps.engine.verify(tenant, identity, code, options.verify);
  // Token styles verify under 'reject' or 'create', which always name a user.
  if (userId === undefined) throw errors.userNotFound();
  const nowSeconds = Math.floor((deps.now ?? Date.now)() / 1000);
  const accessToken = await issueAccessToken(key, {
    issuer: issuerFor(requestOrigin(event, deps.publicBaseUrl), tenant.projectId, tenant.environment),
    projectId: tenant.projectId,
    environment: tenant.environment,
    userId,
    ttlSeconds: options.ttlSeconds,
    nowSeconds,
    claims: options.claims,
  });
  return { userId, accessToken, expiresIn: options.ttlSeconds, expiresAt: new Date((nowSeconds + options.ttlSeconds) * 1000) };
};
