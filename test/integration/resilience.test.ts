import { loadConfig } from '#core/config';
import { phoneIdentity } from '#core/otp/identity';
import { runtime } from '#core/runtime';
import { defaultSesSender } from '#core/delivery/ses-email';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { handler as signup, makeHandler as makeSignup } from '../../functions/mobile-otp-signup';
import { makeHandler as makeLogin } from '../../functions/mobile-otp-login';
import { handler as verify, makeHandler as makeVerify } from '../../functions/mobile-otp-verify';
import { call, event, latestCode, newTenant, uniqueIndianMobile, type Handler, type TestTenant } from '../support/harness';

/** What happens when a provider, a secret or a racing request lets us down halfway. */

let tenant: TestTenant;
beforeAll(async () => {
  tenant = await newTenant();
});

const post = (handler: Handler, body: unknown) => call(handler, event(tenant, { body, appKey: tenant.appKey }));
const failingDelivery = {
  channel: 'sms' as const,
  send: async () => {
    throw Object.assign(new Error('provider down'), { code: 30008 });
  },
};

test('a resend that cannot be delivered leaves the code the user already holds working', async () => {
  const mobile = uniqueIndianMobile();
  await post(signup, { country_code: '+91', mobile });
  const held = await latestCode(`+91${mobile}`);

  const failingLogin = makeLogin({ ...runtime(), sender: failingDelivery, publicBaseUrl: undefined });
  expect((await post(failingLogin, { mobile })).body.error.code).toBe('delivery_failed');
  expect((await post(verify, { mobile, otp_code: held })).status).toBe(200);
});

test('a resend that cannot be delivered, with no earlier code, leaves nothing to verify', async () => {
  const mobile = uniqueIndianMobile();
  await post(signup, { country_code: '+91', mobile });
  expect((await post(verify, { mobile, otp_code: await latestCode(`+91${mobile}`) })).status).toBe(200);

  const failingLogin = makeLogin({ ...runtime(), sender: failingDelivery, publicBaseUrl: undefined });
  expect((await post(failingLogin, { mobile })).status).toBe(502);
  expect((await post(verify, { mobile, otp_code: '123456' })).body.error.code).toBe('no_pending_otp');
});

test('no token for a code whose user was removed after it was sent', async () => {
  const mobile = uniqueIndianMobile();
  await post(signup, { country_code: '+91', mobile });
  const code = await latestCode(`+91${mobile}`);
  // Removing a user also takes the owner off its pending code (single-write-verify.test.ts has the races).
  expect(await runtime().identities.removeUser(tenant, phoneIdentity(`+91${mobile}`), Date.now())).toBe(true);

  const res = await post(verify, { mobile, otp_code: code });
  expect(res.status).toBe(404);
  expect(res.body.error.code).toBe('user_not_found');
  expect(res.body.access_token).toBeUndefined();
});

test('a signing key that cannot be loaded costs the user nothing: the same code works on retry', async () => {
  const mobile = uniqueIndianMobile();
  await post(signup, { country_code: '+91', mobile });
  const code = await latestCode(`+91${mobile}`);
  const rt = runtime();
  const keyOutage = makeVerify({ ...rt, publicBaseUrl: undefined, signingKey: async () => Promise.reject(new Error('ThrottlingException')) });

  const failed = await post(keyOutage, { mobile, otp_code: code });
  expect(failed.status).toBe(500);
  expect(failed.body).toEqual({ error: { code: 'internal_error', message: 'Something went wrong on our side; try again later.' } });
  expect((await post(verify, { mobile, otp_code: code })).status).toBe(200);
});

test('SMS not configured is our 500 (not the provider\'s 502), and the signup is undone', async () => {
  const rt = runtime();
  const unconfigured = makeSignup({ ...rt, sender: twilioSmsSender(async () => undefined) });
  const mobile = uniqueIndianMobile();
  const res = await post(unconfigured, { country_code: '+91', mobile });
  expect(res.status).toBe(500);
  expect(res.body.error.code).toBe('internal_error');
  expect((await post(signup, { country_code: '+91', mobile })).status).toBe(201);
});

test('an email function without SENDER_EMAIL fails at cold start, naming it', () => {
  const { SENDER_EMAIL: _omitted, ...env } = process.env;
  expect(() => defaultSesSender(loadConfig(env))).toThrow('missing environment variable SENDER_EMAIL');
});
