import { createLocalJWKSet } from 'jose';
import * as v from 'valibot';
import { errors } from '#core/errors';
import { json, requestOrigin, tenantRoute, type HttpEvent, type TenantResolver } from '#core/http/route';
import type { Tenant } from '#core/otp/engine';
import type { TenantRef } from '#core/store/repository';
import { issuerFor, jwksDocument, type SigningKey } from '#core/tokens/access-tokens';
import type { Sessions } from '#core/tokens/sessions';
import { issueSessionTokens, type IssuedToken } from '#core/tokens/verify-and-issue';
import { InvalidAccessTokenError, verifyAccessTokenWith, type AccessTokenClaims } from '#core/tokens/verify-access-token';

/**
 * The session endpoints every style shares, under /auth/{project}/{environment}/ with the APP-KEY:
 * token/refresh (new tokens for a refresh token, which rotates) and logout (revokes the session of
 * the bearer access token, or all of the user's sessions).
 */

export interface SessionRouteDeps {
  readonly tenants: TenantResolver;
  readonly sessions: Sessions;
  readonly signingKey: (tenant: TenantRef) => Promise<SigningKey>;
  readonly verificationKeys: (tenant: TenantRef) => Promise<readonly SigningKey[]>;
  readonly publicBaseUrl: string | undefined;
  readonly now?: () => number;
}

export const refreshBody = v.object({
  refresh_token: v.pipe(v.string('refresh_token must be a string.'), v.maxLength(512, 'refresh_token is too long.')),
});
export const logoutBody = v.object({ all: v.optional(v.boolean('all must be true or false.')) });

const parse = <S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> => {
  const result = v.safeParse(schema, body);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const field = issue.path?.[0]?.key;
  const name = typeof field === 'string' ? field : undefined;
  throw errors.invalidRequest(issue.received === 'undefined' && name ? `${name} is required.` : issue.message, name);
};

export const sessionTokenFields = (issued: IssuedToken) => ({
  access_token: issued.accessToken,
  token_type: 'bearer',
  expires_in: issued.expiresIn,
  refresh_token: issued.refreshToken,
  refresh_expires_in: issued.refreshExpiresIn,
});

export const tokenRefreshRoute = (deps: SessionRouteDeps) =>
  tenantRoute(deps.tenants, async (body, tenant, event) => {
    const { refresh_token: presented } = parse(refreshBody, body);
    // Loaded before the token is exchanged: a key that cannot be loaded must not use up the refresh token.
    const key = await deps.signingKey(tenant);
    const session = await deps.sessions.refresh(tenant, presented);
    const issued = await issueSessionTokens(deps, event, tenant, key, session);
    return json(200, { user_id: issued.userId, ...sessionTokenFields(issued) });
  });

const bearerToken = (event: HttpEvent): string => {
  const header = event.headers.authorization?.trim();
  if (!header) throw errors.missingAccessToken();
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw errors.invalidAccessToken();
  return match[1];
};

/** The access token of this very project and environment, checked as strictly as verifyAccessToken does for a backend. */
export const authenticate = async (deps: SessionRouteDeps, event: HttpEvent, tenant: Tenant): Promise<AccessTokenClaims> => {
  const token = bearerToken(event);
  const keys = createLocalJWKSet(jwksDocument(await deps.verificationKeys(tenant)));
  try {
    return await verifyAccessTokenWith(token, keys, {
      issuer: issuerFor(requestOrigin(event, deps.publicBaseUrl), tenant.projectId, tenant.environment),
      audience: tenant.projectId,
      ...(deps.now === undefined ? {} : { currentDate: new Date(deps.now()) }),
    });
  } catch (error) {
    if (error instanceof InvalidAccessTokenError) throw errors.invalidAccessToken(error);
    throw error;
  }
};

export const logoutRoute = (deps: SessionRouteDeps) =>
  tenantRoute(
    deps.tenants,
    async (body, tenant, event) => {
      const { all } = parse(logoutBody, body);
      const claims = await authenticate(deps, event, tenant);
      if (all) {
        await deps.sessions.revokeAll(tenant, claims.sub);
      } else {
        // Tokens from before sessions existed name none; they can still log out everywhere.
        if (claims.sid === undefined) throw errors.invalidAccessToken();
        await deps.sessions.revoke(tenant, claims.sub, claims.sid);
      }
      return json(200, { logged_out: true, sessions: all ? 'all' : 'current' });
    },
    { bodyOptional: true },
  );
