import { createLocalJWKSet, jwtVerify } from 'jose';
import { createEngine } from '#core/otp/engine';
import { runtime } from '#core/runtime';
import { handler as signup } from '../../functions/mobile-otp-signup';
import { handler as login } from '../../functions/mobile-otp-login';
import { handler as verify, makeHandler as makeVerify } from '../../functions/mobile-otp-verify';
import { handler as jwks } from '../../functions/jwks';
import { call, event, inbox, latestCode, newTenant, uniqueIndianMobile, type TestTenant } from '../support/harness';

/** The documented mobile flow through the real handlers, DynamoDB Local and the local Twilio endpoint. */

let tenant: TestTenant;
beforeAll(async () => {
  tenant = await newTenant();
});

const post = (handler: typeof signup, body: unknown, appKey = tenant.appKey) => call(handler, event(tenant, { body, appKey }));

test('signup as documented returns 201 with user_id and mobile, and texts a 6-digit code', async () => {
  const mobile = uniqueIndianMobile();
  const res = await post(signup, { country_code: '+91', mobile });
  expect(res.status).toBe(201);
  expect(res.body).toEqual({ user_id: expect.any(String), mobile, country_code: '+91' });
  expect(await latestCode(`+91${mobile}`)).toMatch(/^\d{6}$/);
});

test('signup, verify with the integer code, and the token verifies against the JWKS', async () => {
  const mobile = uniqueIndianMobile();
  const { body: created } = await post(signup, { country_code: '+91', mobile });
  const code = await latestCode(`+91${mobile}`);

  const res = await post(verify, { mobile, otp_code: Number(code) });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ user_id: created.user_id, mobile, token_type: 'bearer', expires_in: 3600 });

  const keys = (await call(jwks, event(tenant, { method: 'GET' }))).body;
  const { payload, protectedHeader } = await jwtVerify(res.body.access_token, createLocalJWKSet(keys as never), {
    issuer: `https://otpgate.test/auth/${tenant.projectId}/development`,
    audience: tenant.projectId,
  });
  expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: keys.keys[0].kid });
  expect(payload).toMatchObject({ sub: created.user_id, phone_number: `+91${mobile}` });
  expect(payload.exp! - payload.iat!).toBe(3600);
  expect(payload.jti).toEqual(expect.any(String));
});

test('a code works once', async () => {
  const mobile = uniqueIndianMobile();
  await post(signup, { country_code: '+91', mobile });
  const code = await latestCode(`+91${mobile}`);
  expect((await post(verify, { mobile, otp_code: code })).status).toBe(200);
  const again = await post(verify, { mobile, otp_code: code });
  expect(again.status).toBe(400);
  expect(again.body.error.code).toBe('no_pending_otp');
});

test('signing up again before any code was verified sends a new code to the same user; after a verify it is 409', async () => {
  const mobile = uniqueIndianMobile();
  const first = await post(signup, { country_code: '+91', mobile });
  const firstCode = await latestCode(`+91${mobile}`);
  // The first answer may never have reached the app, or the SMS never came: the repeat is the same signup.
  const again = await post(signup, { country_code: '+91', mobile });
  expect(again.status).toBe(201);
  expect(again.body).toEqual(first.body);
  const secondCode = await latestCode(`+91${mobile}`);
  expect(await inbox(`+91${mobile}`)).toHaveLength(2);
  if (secondCode !== firstCode) expect((await post(verify, { mobile, otp_code: firstCode })).body.error.code).toBe('invalid_otp');
  expect((await post(verify, { mobile, otp_code: secondCode })).body.user_id).toBe(first.body.user_id);

  const twice = await post(signup, { country_code: '+91', mobile });
  expect(twice.status).toBe(409);
  expect(twice.body.error.code).toBe('user_exists');
  expect(await inbox(`+91${mobile}`)).toHaveLength(2);
});

// The soak run's hostile requests found it: a calling code no country has made the phone parser throw, and these answered 500.
test.each([13, '+13', '999', '+42'])('signup and login with country_code %p, which no country has, are 400 invalid_mobile on country_code', async (country_code) => {
  for (const handler of [signup, login]) {
    const res = await post(handler, { country_code, mobile: '561797500' });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'invalid_mobile', field: 'country_code', message: 'country_code is not a country calling code.' });
  }
});

test('login sends a new code that replaces the old one', async () => {
  const mobile = uniqueIndianMobile();
  const first = await post(signup, { country_code: '+91', mobile });
  const oldCode = await latestCode(`+91${mobile}`);

  const res = await post(login, { mobile });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ user_id: first.body.user_id, mobile, country_code: '+91' });
  const newCode = await latestCode(`+91${mobile}`);
  if (newCode !== oldCode) {
    const stale = await post(verify, { mobile, otp_code: oldCode });
    expect(stale.body.error.code).toBe('invalid_otp');
  }
  expect((await post(verify, { mobile, otp_code: newCode })).status).toBe(200);
});

test('login of an unknown number is 404 and sends nothing', async () => {
  const mobile = uniqueIndianMobile();
  const res = await post(login, { mobile });
  expect(res.status).toBe(404);
  expect(res.body.error.code).toBe('user_not_found');
  await expect(latestCode(`+91${mobile}`)).rejects.toThrow('no code');
});

test('login accepts the full E.164 number, and 00-prefixed and spaced forms of it', async () => {
  const mobile = uniqueIndianMobile();
  await post(signup, { country_code: '91', mobile });
  for (const form of [`+91${mobile}`, `0091${mobile}`, `+91 ${mobile.slice(0, 5)} ${mobile.slice(5)}`]) {
    const res = await post(login, { mobile: form });
    expect(res.status).toBe(200);
  }
});

test('a wrong code reports attempts left; after five wrong codes even the right one is refused', async () => {
  const mobile = uniqueIndianMobile();
  await post(signup, { country_code: '+91', mobile });
  const code = await latestCode(`+91${mobile}`);
  const wrong = code === '000000' ? '111111' : '000000';

  const remaining: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const res = await post(verify, { mobile, otp_code: wrong });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_otp');
    remaining.push(res.body.error.attempts_remaining);
  }
  expect(remaining).toEqual([4, 3, 2, 1, 0]);

  const right = await post(verify, { mobile, otp_code: code });
  expect(right.status).toBe(429);
  expect(right.body.error.code).toBe('too_many_attempts');
});

test('a code is valid for 5 minutes: at 4:50 it verifies, at 5:10 it is 410 (decided in code, not by the TTL sweep)', async () => {
  const rt = runtime();
  const verifyAt = (offsetMs: number) =>
    makeVerify({ ...rt, publicBaseUrl: undefined, engine: createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper, now: () => Date.now() + offsetMs }) });

  const early = uniqueIndianMobile();
  await post(signup, { country_code: '+91', mobile: early });
  expect((await post(verifyAt(290_000), { mobile: early, otp_code: await latestCode(`+91${early}`) })).status).toBe(200);

  const late = uniqueIndianMobile();
  await post(signup, { country_code: '+91', mobile: late });
  const res = await post(verifyAt(310_000), { mobile: late, otp_code: await latestCode(`+91${late}`) });
  expect(res.status).toBe(410);
  expect(res.body.error.code).toBe('otp_expired');
});

test('verify with no code ever sent is 400 no_pending_otp', async () => {
  const res = await post(verify, { mobile: uniqueIndianMobile(), otp_code: '123456' });
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe('no_pending_otp');
});
