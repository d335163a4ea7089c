import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { runtime } from '#core/runtime';
import { fileSecrets, requiredSecret } from '#core/secrets';
import { fileSigningSecretStore } from '#core/tokens/signing-key-rotation';
import { createTenantKeys, RotationTooSoonError, rotateSigningKey } from '#core/tokens/signing-keys';
import { verifyAccessToken } from '#core/tokens/verify-access-token';
import { routes } from '#lib/routes';
import { startLocalApi } from '../../local/server';
import { handler as signup } from '../../functions/mobile-otp-signup';
import { makeHandler as makeVerify } from '../../functions/mobile-otp-verify';
import { makeHandler as makeRefresh } from '../../functions/token-refresh';
import { makeHandler as makeLogout } from '../../functions/logout';
import { makeHandler as makeJwks } from '../../functions/jwks';
import { call, event, latestCode, newTenant, uniqueIndianMobile, type Handler, type TestTenant } from '../support/harness';

/**
 * Signing-key rotation through the real handlers, with a signing-key secret of this test's own
 * (the suite's shared one must not rotate under other test files) and a clock the test moves:
 * one "warm container" that caches the secret for 5 minutes, as the runtime does.
 */

let tenant: TestTenant;
let secretsDir: string;
let clock: number;
let handlers: { verify: Handler; refresh: Handler; logout: Handler; jwks: Handler };

beforeAll(async () => {
  tenant = await newTenant();
  secretsDir = mkdtempSync(join(tmpdir(), 'otpgate-rotation-'));
  // What the stack generates: a plain seed.
  writeFileSync(join(secretsDir, 'signing-key'), randomBytes(48).toString('base64url'), { mode: 0o600 });
  clock = Date.now();
  const keys = createTenantKeys({ loadSecret: () => requiredSecret(fileSecrets(secretsDir), 'signing-key'), now: () => clock });
  const rt = runtime();
  const deps = { ...rt, publicBaseUrl: rt.config.publicBaseUrl, signingKey: keys.signingKey, verificationKeys: keys.verificationKeys };
  handlers = { verify: makeVerify(deps), refresh: makeRefresh(deps), logout: makeLogout(deps), jwks: makeJwks(deps) };
});

const post = (handler: Handler, body: unknown, headers: Record<string, string> = {}) => call(handler, event(tenant, { body, appKey: tenant.appKey, headers }));
const issuer = () => `https://otpgate.test/auth/${tenant.projectId}/development`;

const signIn = async () => {
  const mobile = uniqueIndianMobile();
  expect((await post(signup, { country_code: '+91', mobile })).status).toBe(201);
  const res = await post(handlers.verify, { mobile, otp_code: await latestCode(`+91${mobile}`) });
  expect(res.status).toBe(200);
  return res.body as { access_token: string; refresh_token: string };
};
const kidOf = (token: string) => decodeProtectedHeader(token).kid;
const publishedKids = async () => ((await call(handlers.jwks, event(tenant, { method: 'GET' }))).body as JSONWebKeySet).keys.map((k) => k.kid);
const jwksDocument = async () => (await call(handlers.jwks, event(tenant, { method: 'GET' }))).body as JSONWebKeySet;
const minutes = (n: number) => n * 60_000;

test('a rotation publishes the new key at once, signs with it 10 minutes later, and tokens signed before it keep working', async () => {
  const before = await signIn();
  const oldKid = kidOf(before.access_token);
  expect(await publishedKids()).toEqual([oldKid]);

  const rotatedAt = clock;
  const result = await rotateSigningKey(fileSigningSecretStore(secretsDir), { now: rotatedAt });
  expect(result.activatesAt.getTime() - rotatedAt).toBe(minutes(10));

  // A warm container re-reads the secret only after its 5-minute cache.
  clock = rotatedAt + minutes(4);
  expect(await publishedKids()).toEqual([oldKid]);
  clock = rotatedAt + minutes(5) + 1000;
  const [stillSigning, newKid] = await publishedKids();
  expect(stillSigning).toBe(oldKid);
  expect(newKid).toEqual(expect.any(String));
  expect(newKid).not.toBe(oldKid);
  // Published, not yet used: a token now still carries the old kid.
  expect(kidOf((await signIn()).access_token)).toBe(oldKid);
  const jwksBeforeActivation = await jwksDocument();

  clock = rotatedAt + minutes(10) + 1000;
  expect(await publishedKids()).toEqual([newKid, oldKid]);
  const after = await signIn();
  expect(kidOf(after.access_token)).toBe(newKid);
  // A relying party still holding the JWKS it fetched before the switch can verify the new tokens.
  await expect(jwtVerify(after.access_token, createLocalJWKSet(jwksBeforeActivation), { issuer: issuer(), audience: tenant.projectId })).resolves.toBeDefined();

  // The token from before the rotation still verifies, against the JWKS and at the service itself.
  await expect(jwtVerify(before.access_token, createLocalJWKSet(await jwksDocument()), { issuer: issuer(), audience: tenant.projectId })).resolves.toBeDefined();
  const refreshed = await post(handlers.refresh, { refresh_token: before.refresh_token });
  expect(refreshed.status).toBe(200);
  expect(kidOf(refreshed.body.access_token)).toBe(newKid);
  expect((await post(handlers.logout, {}, { authorization: `Bearer ${before.access_token}` })).status).toBe(200);

  // verifyAccessToken in a backend, against the JWKS served over HTTP by the local API.
  const api = await startLocalApi({
    routes: routes.filter((r) => r.id === 'Jwks'),
    loadHandler: async () => handlers.jwks,
    port: 0,
  });
  try {
    const jwksUri = `http://127.0.0.1:${api.port}/auth/${tenant.projectId}/development/.well-known/jwks.json`;
    for (const token of [before.access_token, after.access_token]) {
      await expect(verifyAccessToken(token, { issuer: issuer(), audience: tenant.projectId, jwksUri })).resolves.toMatchObject({ token_use: 'access' });
    }
  } finally {
    await api.close();
  }

  // Rotating again within a day would drop the key that signed tokens still alive: refused unless forced.
  await expect(rotateSigningKey(fileSigningSecretStore(secretsDir), { now: clock })).rejects.toThrow(RotationTooSoonError);
  await rotateSigningKey(fileSigningSecretStore(secretsDir), { now: clock, force: true, activationDelaySeconds: 0 });
  clock += minutes(5) + 1000;
  const afterForced = await publishedKids();
  expect(afterForced).toHaveLength(2);
  expect(afterForced[1]).toBe(newKid);
  expect(afterForced).not.toContain(oldKid);
  expect(kidOf((await signIn()).access_token)).toBe(afterForced[0]);
  // The dropped key's tokens are now refused, as a forced rotation after a leak intends.
  const res = await post(handlers.logout, {}, { authorization: `Bearer ${before.access_token}` });
  expect(res.status).toBe(401);
  expect(res.body.error.code).toBe('invalid_access_token');
});
