import { createLocalJWKSet, jwtVerify } from 'jose';
import { handler as mobileSignup } from '../../functions/mobile-otp-signup';
import { handler as mobileLogin } from '../../functions/mobile-otp-login';
import { handler as mobileVerify } from '../../functions/mobile-otp-verify';
import { handler as emailSignup } from '../../functions/email-otp-signup';
import { handler as emailLogin } from '../../functions/email-otp-login';
import { handler as jwks } from '../../functions/jwks';
import { call, event, inbox, latestCode, newTenant, uniqueEmail, uniqueIndianMobile, type Handler, type TestTenant } from '../support/harness';

/**
 * Seeds 000/001 post their verify example to mobile-otp-login with otp_code. An app that copied it
 * must get its token, not a fresh SMS that kills the code the user is typing; email likewise.
 */

let tenant: TestTenant;
beforeAll(async () => {
  tenant = await newTenant();
});

const post = (handler: Handler, body: unknown) => call(handler, event(tenant, { body, appKey: tenant.appKey }));

const verifiedSub = async (token: string) => {
  const keys = createLocalJWKSet((await call(jwks, event(tenant, { method: 'GET' }))).body as never);
  const { payload } = await jwtVerify(token, keys, { issuer: `https://otpgate.test/auth/${tenant.projectId}/development`, audience: tenant.projectId });
  return payload.sub;
};

describe('mobile-otp-login with otp_code is a verify', () => {
  const signedUp = async () => {
    const mobile = uniqueIndianMobile();
    const created = await post(mobileSignup, { country_code: '+91', mobile });
    expect(created.status).toBe(201);
    return { mobile, to: `+91${mobile}`, userId: created.body.user_id as string, code: await latestCode(`+91${mobile}`) };
  };

  test("the seed's verify example (integer otp_code to the login URL) returns the token and sends no SMS", async () => {
    const { mobile, to, userId, code } = await signedUp();
    const res = await post(mobileLogin, { mobile, otp_code: Number(code) });

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user_id: userId,
      mobile,
      country_code: '+91',
      access_token: expect.any(String),
      token_type: 'bearer',
      expires_in: 3600,
      refresh_token: expect.stringMatching(/^ogr_/),
      refresh_expires_in: 2_592_000,
    });
    expect(await verifiedSub(res.body.access_token)).toBe(userId);
    expect(await inbox(to)).toHaveLength(1);
  });

  test("verify's errors, and still nothing sent: a wrong code counts an attempt, a used code is gone", async () => {
    const { mobile, to, code } = await signedUp();
    const wrong = await post(mobileLogin, { mobile, otp_code: code === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatchObject({ code: 'invalid_otp', attempts_remaining: 4 });

    expect((await post(mobileLogin, { mobile, otp_code: code })).status).toBe(200);
    const again = await post(mobileLogin, { mobile, otp_code: code });
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('no_pending_otp');
    expect(await inbox(to)).toHaveLength(1);
  });

  test('a code sent by the login URL verifies at the login URL', async () => {
    const { mobile, to, userId } = await signedUp();
    expect((await post(mobileLogin, { mobile })).status).toBe(200);
    const res = await post(mobileLogin, { mobile, otp_code: await latestCode(to) });
    expect(res.body.user_id).toBe(userId);
    expect(res.body.access_token).toEqual(expect.any(String));
    expect(await inbox(to)).toHaveLength(2);
  });

  test('a login without a code (or with a null or empty one) still sends a new code', async () => {
    const { mobile, to } = await signedUp();
    for (const body of [{ mobile }, { mobile, otp_code: null }, { mobile, otp_code: '' }]) {
      const res = await post(mobileLogin, body);
      expect(res.status).toBe(200);
      expect(res.body.access_token).toBeUndefined();
    }
    expect(await inbox(to)).toHaveLength(4);
  });

  test('a malformed code at the login URL is the verify error, not an SMS', async () => {
    const { mobile, to } = await signedUp();
    const res = await post(mobileLogin, { mobile, otp_code: '12' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', field: 'otp_code' });
    expect(await inbox(to)).toHaveLength(1);
  });

  test('the verify answer is the same whichever URL it came to', async () => {
    const first = await signedUp();
    const viaLogin = await post(mobileLogin, { mobile: first.mobile, otp_code: first.code });
    const second = await signedUp();
    const viaVerify = await post(mobileVerify, { mobile: second.mobile, otp_code: second.code });
    expect(Object.keys(viaLogin.body).sort()).toEqual(Object.keys(viaVerify.body).sort());
  });
});

describe('email-otp-login with otp_code is a verify', () => {
  test('returns the token and sends no email', async () => {
    const email = uniqueEmail();
    const created = await post(emailSignup, { email });
    expect(created.status).toBe(201);
    const code = await latestCode(email);

    const res = await post(emailLogin, { email, otp_code: Number(code) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user_id: created.body.user_id, email, access_token: expect.any(String), token_type: 'bearer', expires_in: 3600, refresh_token: expect.stringMatching(/^ogr_/), refresh_expires_in: 2_592_000 });
    expect(await verifiedSub(res.body.access_token)).toBe(created.body.user_id);
    expect(await inbox(email)).toHaveLength(1);
  });

  test('a wrong code is 401 invalid_otp; without a code login still emails one', async () => {
    const email = uniqueEmail();
    await post(emailSignup, { email });
    const code = await latestCode(email);
    const wrong = await post(emailLogin, { email, otp_code: code === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('invalid_otp');
    expect(await inbox(email)).toHaveLength(1);

    expect((await post(emailLogin, { email })).status).toBe(200);
    expect(await inbox(email)).toHaveLength(2);
  });
});
