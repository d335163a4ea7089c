import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

/**
 * Verifying otpgate access tokens in a Node backend:
 *
 *   import { verifyAccessToken } from 'otpgate/verify';
 *   const claims = await verifyAccessToken(token, { issuer: 'https://auth.example.com/auth/acme/production', audience: 'acme' });
 *
 * The checks are the ones otpgate's own logout applies: ES256 only (so `alg: none` and an HS256
 * token "signed" with the public key are refused before any key is looked at), a `kid` the
 * project's JWKS lists, the exact issuer (which names the project and environment) and audience,
 * expiry, and `token_use: "access"`. Depends on jose alone, so the file can also be copied.
 */

export interface AccessTokenClaims extends JWTPayload {
  readonly sub: string;
  readonly iss: string;
  readonly exp: number;
  readonly iat: number;
  /** The environment the token was issued in. */
  readonly env: string;
  readonly token_use: 'access';
  /** The session the token belongs to (absent in tokens issued before sessions existed). */
  readonly sid?: string;
  readonly phone_number?: string;
  readonly email?: string;
}

export class InvalidAccessTokenError extends Error {
  /** 'expired' when only the expiry failed; 'invalid' for anything else. */
  readonly reason: 'expired' | 'invalid';

  constructor(reason: 'expired' | 'invalid', options?: { cause?: unknown }) {
    super(`otpgate: the access token is ${reason}`, options);
    this.name = 'InvalidAccessTokenError';
    this.reason = reason;
  }
}

export interface AccessTokenExpectations {
  /** `{base URL}/auth/{project_id}/{environment}`, exactly as in the tokens and the discovery document. */
  readonly issuer: string;
  /** The project id. */
  readonly audience: string;
  /** For tests and replays; the real clock by default. */
  readonly currentDate?: Date;
}

/** The checks, with the keys from wherever the caller has them (a remote JWKS, or the service's own keys). */
export const verifyAccessTokenWith = async (token: string, keys: JWTVerifyGetKey, expected: AccessTokenExpectations): Promise<AccessTokenClaims> => {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      algorithms: ['ES256'],
      typ: 'JWT',
      issuer: expected.issuer,
      audience: expected.audience,
      requiredClaims: ['sub', 'exp', 'iat'],
      ...(expected.currentDate === undefined ? {} : { currentDate: expected.currentDate }),
    }));
  } catch (error) {
    throw new InvalidAccessTokenError(error instanceof joseErrors.JWTExpired ? 'expired' : 'invalid', { cause: error });
  }
  if (payload.token_use !== 'access' || typeof payload.env !== 'string') throw new InvalidAccessTokenError('invalid');
  return payload as AccessTokenClaims;
};

// One JWKS fetcher per URL for the life of the process: jose caches the keys (10 minutes) and
// fetches again at once, at most every 30 s, when a token names a kid it has not seen (a rotation).
const remoteKeySets = new Map<string, JWTVerifyGetKey>();

export interface VerifyAccessTokenOptions extends AccessTokenExpectations {
  /** Defaults to `{issuer}/.well-known/jwks.json`. */
  readonly jwksUri?: string;
}

/** Verifies an otpgate access token against the project's published JWKS; throws InvalidAccessTokenError. */
export const verifyAccessToken = (token: string, options: VerifyAccessTokenOptions): Promise<AccessTokenClaims> => {
  const uri = options.jwksUri ?? `${options.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
  let keys = remoteKeySets.get(uri);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(uri));
    remoteKeySets.set(uri, keys);
  }
  return verifyAccessTokenWith(token, keys, options);
};
