import { errors } from '#core/errors';
import { requestOrigin, type HttpEvent } from '#core/http/route';
import type { Engine, Tenant, VerifyOptions } from '#core/otp/engine';
import type { Identity } from '#core/otp/identity';
import type { TenantRef } from '#core/store/repository';
import { issuerFor, issueAccessToken, type SigningKey } from '#core/tokens/access-tokens';
import type { Session, Sessions } from '#core/tokens/sessions';

/** What every token-issuing style needs besides its tenant resolver. */
export interface TokenDeps {
  readonly engine: Engine;
  readonly signingKey: (tenant: TenantRef) => Promise<SigningKey>;
  readonly sessions: Sessions;
  readonly publicBaseUrl: string | undefined;
  readonly now?: () => number;
}

export interface IssuedToken {
  readonly userId: string;
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly expiresAt: Date;
  /** Opaque; exchanged at POST .../token/refresh for new tokens. */
  readonly refreshToken: string;
  readonly refreshExpiresIn: number;
  /** The access token's `sid`. */
  readonly sessionId: string;
}

/** Signs the access token of a session (a new one, or one just refreshed) with an already loaded key. */
export const issueSessionTokens = async (
  deps: Pick<TokenDeps, 'publicBaseUrl' | 'now'>,
  event: HttpEvent,
  tenant: TenantRef,
  key: SigningKey,
  session: Session,
): Promise<IssuedToken> => {
  const nowSeconds = Math.floor((deps.now ?? Date.now)() / 1000);
  const accessToken = await issueAccessToken(key, {
    issuer: issuerFor(requestOrigin(event, deps.publicBaseUrl), tenant.projectId, tenant.environment),
    projectId: tenant.projectId,
    environment: tenant.environment,
    userId: session.userId,
    ttlSeconds: session.accessTtlSeconds,
    nowSeconds,
    claims: session.claims,
    sessionId: session.sessionId,
  });
  return {
    userId: session.userId,
    accessToken,
    expiresIn: session.accessTtlSeconds,
    expiresAt: new Date((nowSeconds + session.accessTtlSeconds) * 1000),
    refreshToken: session.refreshToken,
    refreshExpiresIn: session.refreshExpiresIn,
    sessionId: session.sessionId,
  };
};

/**
 * Verifies a code and issues the access and refresh tokens, in the one order that is safe: the
 * signing key is loaded before the code is consumed, so a key that cannot be loaded never costs
 * the user their code, and the session (its first refresh token) is written in the same
 * transaction that uses up the code, so a used code always has its session and nothing else can
 * fail between them. Every style that returns a token goes through here, so they all issue the
 * same tokens.
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
  const grant = { claims: options.claims, accessTtlSeconds: options.ttlSeconds };
  // The session of the write that used the code (a verify may write in several rounds; only the last one lands).
  let session: Session | undefined;
  const { userId } = await deps.engine.verify(tenant, identity, code, {
    ...options.verify,
    alongside: (owner) => {
      if (owner === undefined) return [];
      const prepared = deps.sessions.prepare(tenant, owner, grant);
      session = prepared.session;
      return [prepared.write];
    },
  });
  // Token styles verify under 'reject' or 'create', which always name a user.
  if (userId === undefined || session === undefined || session.userId !== userId) throw errors.userNotFound();
  return issueSessionTokens(deps, event, tenant, key, session);
};
