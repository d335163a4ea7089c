import { createPublicKey } from 'node:crypto';
import { decodeJwt, SignJWT } from 'jose';
import { runtime } from '#core/runtime';
import { issueAccessToken, type SigningKey } from '#core/tokens/access-tokens';
import { InvalidAccessTokenError, verifyAccessToken, type VerifyAccessTokenOptions } from '#core/tokens/verify-access-token';
import { routes } from '#lib/routes';
import { startLocalApi, type LambdaHandler } from '../../local/server';
import { handler as signup } from '../../functions/mobile-otp-signup';
import { handler as verify } from '../../functions/mobile-otp-verify';
import { handler as jwks } from '../../functions/jwks';
import { call, event, latestCode, newTenant, uniqueIndianMobile, type TestTenant } from '../support/harness';

/**
 * verifyAccessToken as a Node backend uses it: the JWKS comes over HTTP from the local API serving
 * the real JWKS handler, and every token a relying party must refuse is refused.
 */

let tenant: TestTenant;
let api: Awaited<ReturnType<typeof startLocalApi>>;
let jwksFetches = 0;
let key: SigningKey;
let good: { access_token: string; user_id: string };

const issuer = (t: { projectId: string; environment: string } = tenant) => `https://otpgate.test/auth/${t.projectId}/${t.environment}`;
const options = (t: { projectId: string; environment: string } = tenant): VerifyAccessTokenOptions => ({
  issuer: issuer(),
  audience: tenant.projectId,
  jwksUri: `http://127.0.0.1:${api.port}/auth/${t.projectId}/${t.environment}/.well-known/jwks.json`,
});

const signIn = async (t: TestTenant) => {
  const mobile = uniqueIndianMobile();
  await call(signup, event(t, { body: { country_code: '+91', mobile }, appKey: t.appKey }));
  const res = await call(verify, event(t, { body: { mobile, otp_code: await latestCode(`+91${mobile}`) }, appKey: t.appKey }));
  expect(res.status).toBe(200);
  return res.body as { access_token: string; user_id: string };
};

const now = () => Math.floor(Date.now() / 1000);
const signed = (overrides: { issuer?: string; audience?: string; nowSeconds?: number; ttlSeconds?: number; kid?: string } = {}) =>
  issueAccessToken(overrides.kid ? { ...key, kid: overrides.kid } : key, {
    issuer: overrides.issuer ?? issuer(),
    projectId: overrides.audience ?? tenant.projectId,
    environment: tenant.environment,
    userId: 'user-1',
    ttlSeconds: overrides.ttlSeconds ?? 600,
    nowSeconds: overrides.nowSeconds ?? now(),
    claims: {},
    sessionId: 'session-1',
  });

const rejection = async (token: string, opts: VerifyAccessTokenOptions = options()): Promise<InvalidAccessTokenError> => {
  try {
    await verifyAccessToken(token, opts);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidAccessTokenError);
    return error as InvalidAccessTokenError;
  }
  throw new Error('the token was accepted');
};

beforeAll(async () => {
  tenant = await newTenant({ environments: ['development', 'production'] });
  api = await startLocalApi({
    routes: routes.filter((r) => r.id === 'Jwks'),
    loadHandler: async () => (async (ev, ctx) => {
      jwksFetches += 1;
      return jwks(ev, ctx);
    }) satisfies LambdaHandler,
    port: 0,
  });
  key = await runtime().signingKey(tenant);
  good = await signIn(tenant);
});

afterAll(async () => {
  await api.close();
});

test('a real access token verifies and gives its claims; the JWKS is fetched once and then cached', async () => {
  const claims = await verifyAccessToken(good.access_token, options());
  expect(claims).toMatchObject({ sub: good.user_id, iss: issuer(), aud: tenant.projectId, env: 'development', token_use: 'access', sid: expect.any(String) });
  const fetched = jwksFetches;
  for (let i = 0; i < 5; i += 1) await verifyAccessToken(await signed(), options());
  expect(jwksFetches).toBe(fetched);
});

test('alg none is refused', async () => {
  const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(decodeJwt(good.access_token))).toString('base64url');
  expect((await rejection(`${header}.${payload}.`)).reason).toBe('invalid');
});

test('HS256 signed with the public key as the secret is refused', async () => {
  const pem = createPublicKey({ key: key.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  for (const secret of [Buffer.from(pem), Buffer.from(JSON.stringify(key.publicJwk))]) {
    const token = await new SignJWT(decodeJwt(good.access_token)).setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'JWT' }).sign(secret);
    expect((await rejection(token)).reason).toBe('invalid');
  }
});

test('a wrong issuer or audience is refused', async () => {
  await rejection(await signed({ issuer: 'https://evil.example/auth/x/development' }));
  await rejection(await signed({ audience: 'another-project' }));
  await rejection(good.access_token, { ...options(), issuer: `${issuer()}x` });
  await rejection(good.access_token, { ...options(), audience: 'another-project' });
});

test("an expired token is refused with reason 'expired'", async () => {
  expect((await rejection(await signed({ nowSeconds: now() - 1200, ttlSeconds: 600 }))).reason).toBe('expired');
  expect((await rejection(good.access_token, { ...options(), currentDate: new Date(Date.now() + 3601_000) })).reason).toBe('expired');
});

test('an unknown kid is refused', async () => {
  await rejection(await signed({ kid: 'not-a-published-kid' }));
});

test('a token of another project or of another environment is refused', async () => {
  const other = await newTenant();
  await rejection((await signIn(other)).access_token);
  const production = await signIn({ ...tenant, environment: 'production', appKey: tenant.keys.production! });
  await rejection(production.access_token);
  // Even when the caller is pointed at the other environment's JWKS, the issuer still names this one.
  await rejection(production.access_token, options({ projectId: tenant.projectId, environment: 'production' }));
});

test('a token signed with the right key but not an access token is refused', async () => {
  const idToken = await new SignJWT({ ...decodeJwt(await signed()), token_use: 'id' }).setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
  await rejection(idToken);
});
