import { createECDH, createHash, createPrivateKey, hkdfSync, randomUUID, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, SignJWT, type JWK } from 'jose';

/**
 * ES256 access tokens. Every project and environment signs with its own key, derived from one
 * high-entropy seed held in Secrets Manager (generated there by the stack, so no key material is
 * ever in code or the template): the P-256 scalar is HKDF-SHA256(seed, tenant), re-hashed in the
 * negligible case it is out of range. Per-tenant keys mean a token of one project or environment
 * never verifies against another's JWKS, even for a relying party that checks only the signature.
 */

const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
}

export const signingKeyFromSeed = async (seed: string, tenant: { projectId: string; environment: string }): Promise<SigningKey> => {
  if (seed.length < 32) throw new Error('otpgate: the signing key seed must be at least 32 characters');
  const info = `${tenant.projectId}\0${tenant.environment}`;
  let scalar = Buffer.from(hkdfSync('sha256', seed, 'otpgate-es256-signing-key-v1', info, 32));
  for (;;) {
    const value = BigInt(`0x${scalar.toString('hex')}`);
    if (value > 0n && value < P256_ORDER) break;
    scalar = createHash('sha256').update(scalar).digest();
  }
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(scalar);
  const point = ecdh.getPublicKey(); // 0x04 || x || y
  const x = point.subarray(1, 33).toString('base64url');
  const y = point.subarray(33, 65).toString('base64url');
  const publicOnly = { kty: 'EC', crv: 'P-256', x, y };
  const kid = await calculateJwkThumbprint(publicOnly);
  const privateKey = createPrivateKey({ key: { ...publicOnly, d: scalar.toString('base64url') }, format: 'jwk' });
  return { kid, privateKey, publicJwk: { ...publicOnly, kid, alg: 'ES256', use: 'sig' } };
};

/** The issuer of one project and environment: the public base URL of its API. */
export const issuerFor = (origin: string, projectId: string, environment: string): string =>
  `${origin.replace(/\/+$/, '')}/auth/${encodeURIComponent(projectId)}/${encodeURIComponent(environment)}`;

export interface AccessTokenRequest {
  readonly issuer: string;
  readonly projectId: string;
  readonly environment: string;
  readonly userId: string;
  readonly ttlSeconds: number;
  readonly nowSeconds: number;
  /** Verified identity claims, e.g. { phone_number } or { email }. */
  readonly claims: Readonly<Record<string, string>>;
  /** The session (refresh token family) the token belongs to: its `sid` claim, what logout revokes. */
  readonly sessionId?: string;
}

export const issueAccessToken = async (key: SigningKey, request: AccessTokenRequest): Promise<string> =>
  new SignJWT({
    ...request.claims,
    env: request.environment,
    amr: ['otp'],
    token_use: 'access',
    ...(request.sessionId === undefined ? {} : { sid: request.sessionId }),
  })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
    .setIssuer(request.issuer)
    .setAudience(request.projectId)
    .setSubject(request.userId)
    .setIssuedAt(request.nowSeconds)
    .setExpirationTime(request.nowSeconds + request.ttlSeconds)
    .setJti(randomUUID())
    .sign(key.privateKey);

export const jwksDocument = (keys: readonly SigningKey[]) => ({ keys: keys.map((k) => k.publicJwk) });

/** Enough OpenID discovery for jose's createRemoteJWKSet and an API Gateway JWT authorizer. */
export const openidConfiguration = (issuer: string) => ({
  issuer,
  jwks_uri: `${issuer}/.well-known/jwks.json`,
  id_token_signing_alg_values_supported: ['ES256'],
  token_endpoint_auth_methods_supported: ['none'],
  response_types_supported: ['token'],
  subject_types_supported: ['public'],
  claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'jti', 'phone_number', 'email', 'env', 'amr', 'sid'],
});
