import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  issueAccessToken,
  issuerFor,
  jwksDocument,
  openidConfiguration,
  signingKeyFromSeed,
  type AccessTokenRequest,
} from '#core/tokens/access-tokens';

const seedA = 'unit-test-signing-seed-A-0123456789abcdef';
const seedB = 'unit-test-signing-seed-B-0123456789abcdef';
const issuer = 'https://otpgate.test/auth/proj-1/dev';
const tenant = { projectId: 'proj-1', environment: 'dev' };

const request = (nowSeconds: number): AccessTokenRequest => ({
  issuer,
  projectId: 'proj-1',
  environment: 'dev',
  userId: 'user-42',
  ttlSeconds: 900,
  nowSeconds,
  claims: { phone_number: '+919876543211' },
});

describe('signingKeyFromSeed', () => {
  test('every project and environment gets its own key from the same seed', async () => {
    const keys = await Promise.all([
      signingKeyFromSeed(seedA, tenant),
      signingKeyFromSeed(seedA, { projectId: 'proj-1', environment: 'prod' }),
      signingKeyFromSeed(seedA, { projectId: 'proj-2', environment: 'dev' }),
      // A separator collision would give these two the same key.
      signingKeyFromSeed(seedA, { projectId: 'proj-1d', environment: 'ev' }),
    ]);
    expect(new Set(keys.map((k) => k.kid)).size).toBe(4);
    const token = await issueAccessToken(keys[0]!, request(Math.floor(Date.now() / 1000)));
    await expect(jwtVerify(token, createLocalJWKSet(jwksDocument([keys[1]!])))).rejects.toThrow();
  });

  test('derives the same key from the same seed', async () => {
    const [first, second] = await Promise.all([signingKeyFromSeed(seedA, tenant), signingKeyFromSeed(seedA, tenant)]);
    expect(second.kid).toBe(first.kid);
    expect(second.publicJwk).toEqual(first.publicJwk);
  });

  test('derives a different key from another seed', async () => {
    const [a, b] = await Promise.all([signingKeyFromSeed(seedA, tenant), signingKeyFromSeed(seedB, tenant)]);
    expect(b.kid).not.toBe(a.kid);
    expect(b.publicJwk.x).not.toBe(a.publicJwk.x);
  });

  test('rejects a seed shorter than 32 characters', async () => {
    await expect(signingKeyFromSeed('x'.repeat(31), tenant)).rejects.toThrow(/32 characters/);
    await expect(signingKeyFromSeed('x'.repeat(32), tenant)).resolves.toHaveProperty('kid');
  });

  test('the published JWK holds no private part', async () => {
    const key = await signingKeyFromSeed(seedA, tenant);
    expect(key.publicJwk).not.toHaveProperty('d');
    expect(jwksDocument([key]).keys.every((jwk) => !('d' in jwk))).toBe(true);
    expect(key.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: key.kid });
  });
});

describe('issueAccessToken', () => {
  // Near the real clock, because jwtVerify checks exp against it.
  const now = Math.floor(Date.now() / 1000);

  test('verifies against the JWKS with the right issuer and audience, and carries the claims', async () => {
    const key = await signingKeyFromSeed(seedA, tenant);
    const token = await issueAccessToken(key, request(now));
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwksDocument([key])), {
      issuer,
      audience: 'proj-1',
      algorithms: ['ES256'],
    });
    expect(payload).toMatchObject({
      iss: issuer,
      aud: 'proj-1',
      sub: 'user-42',
      phone_number: '+919876543211',
      env: 'dev',
      iat: now,
      exp: now + 900,
    });
    expect(typeof payload.jti).toBe('string');
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: key.kid });
  });

  test('is rejected for another issuer or audience', async () => {
    const key = await signingKeyFromSeed(seedA, tenant);
    const token = await issueAccessToken(key, request(now));
    const jwks = createLocalJWKSet(jwksDocument([key]));
    await expect(jwtVerify(token, jwks, { issuer: `${issuer}x`, audience: 'proj-1' })).rejects.toThrow();
    await expect(jwtVerify(token, jwks, { issuer, audience: 'proj-2' })).rejects.toThrow();
  });

  test('gives every token its own jti', async () => {
    const key = await signingKeyFromSeed(seedA, tenant);
    const [t1, t2] = await Promise.all([issueAccessToken(key, request(now)), issueAccessToken(key, request(now))]);
    const jwks = createLocalJWKSet(jwksDocument([key]));
    const [p1, p2] = await Promise.all([jwtVerify(t1, jwks), jwtVerify(t2, jwks)]);
    expect(p1.payload.jti).not.toBe(p2.payload.jti);
  });

  test('an expired token is rejected', async () => {
    const key = await signingKeyFromSeed(seedA, tenant);
    const token = await issueAccessToken(key, request(now));
    const jwks = createLocalJWKSet(jwksDocument([key]));
    await expect(jwtVerify(token, jwks, { currentDate: new Date((now + 901) * 1000) })).rejects.toThrow(/exp/);
  });

  test('fails verification against the JWKS of another seed', async () => {
    const [key, other] = await Promise.all([signingKeyFromSeed(seedA, tenant), signingKeyFromSeed(seedB, tenant)]);
    const token = await issueAccessToken(key, request(now));
    expect(decodeProtectedHeader(token).kid).toBe(key.kid);
    await expect(jwtVerify(token, createLocalJWKSet(jwksDocument([other])))).rejects.toThrow();
  });
});

describe('discovery', () => {
  test('issuerFor joins origin, project and environment, dropping a trailing slash', () => {
    expect(issuerFor('https://x.example/', 'p', 'dev')).toBe('https://x.example/auth/p/dev');
  });

  test('openidConfiguration points jwks_uri under the issuer', () => {
    const config = openidConfiguration(issuer);
    expect(config.issuer).toBe(issuer);
    expect(config.jwks_uri).toBe(`${issuer}/.well-known/jwks.json`);
  });
});
