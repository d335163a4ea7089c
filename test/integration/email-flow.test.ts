import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import { decodeJwt } from 'jose';
import { runtime } from '#core/runtime';
import { sesEmailSender } from '#core/delivery/ses-email';
import { handler as signup, makeHandler as makeSignup } from '../../functions/email-otp-signup';
import { handler as login } from '../../functions/email-otp-login';
import { handler as verify } from '../../functions/email-otp-verify';
import { call, event, inbox, latestCode, newTenant, uniqueEmail, type Handler, type TestTenant } from '../support/harness';

/** The documented email flow through the real handlers, DynamoDB Local and aws-ses-v2-local. */

let tenant: TestTenant;
beforeAll(async () => {
  tenant = await newTenant({ settings: { appName: 'Acme' } });
});

const post = (handler: Handler, body: unknown) => call(handler, event(tenant, { body, appKey: tenant.appKey }));

test('signup emails a code; verify returns a token for the user', async () => {
  const email = uniqueEmail();
  const created = await post(signup, { email });
  expect(created.status).toBe(201);
  expect(created.body).toEqual({ user_id: expect.any(String), email });

  const [message] = await inbox(email);
  expect(message).toMatchObject({ channel: 'email', to: email, subject: 'Your Acme sign-in code' });
  expect(message!.body).toContain(`Your Acme code is ${message!.code}`);

  const res = await post(verify, { email, otp_code: message!.code });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ user_id: created.body.user_id, email, token_type: 'bearer', expires_in: 3600 });
  expect(decodeJwt(res.body.access_token)).toMatchObject({ sub: created.body.user_id, email, aud: tenant.projectId });
});

test('an address is one account whatever its case or surrounding spaces', async () => {
  const email = uniqueEmail();
  const created = await post(signup, { email: `  ${email.toUpperCase()} ` });
  expect(created.body.email).toBe(email);
  // Not verified yet: the same signup again, for the same user.
  expect(await post(signup, { email })).toMatchObject({ status: 201, body: { user_id: created.body.user_id, email } });

  const res = await post(login, { email: email.replace('user', 'USER') });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ user_id: created.body.user_id, email });
  expect((await post(verify, { email, otp_code: await latestCode(email) })).status).toBe(200);
  expect((await post(signup, { email: email.toUpperCase() })).status).toBe(409);
});

test('login of an unknown address is 404; a wrong code is 401 with attempts left', async () => {
  expect((await post(login, { email: uniqueEmail() })).body.error.code).toBe('user_not_found');
  const email = uniqueEmail();
  await post(signup, { email });
  const code = await latestCode(email);
  const res = await post(verify, { email, otp_code: code === '000000' ? '111111' : '000000' });
  expect(res.status).toBe(401);
  expect(res.body.error).toMatchObject({ code: 'invalid_otp', attempts_remaining: 4 });
});

test('an SES failure is 502 delivery_failed and leaves no half-made user', async () => {
  const ses = mockClient(SESv2Client);
  ses.on(SendEmailCommand).rejects(Object.assign(new Error('Email address is not verified.'), { name: 'MessageRejected' }));
  try {
    const rt = runtime();
    const failing = makeSignup({ ...rt, sender: sesEmailSender(new SESv2Client({}), 'no-reply@otpgate.local') });
    const email = uniqueEmail();
    const res = await post(failing, { email });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('delivery_failed');
    expect(JSON.stringify(res.body)).not.toContain('not verified'); // no provider internals leak
    ses.restore();
    expect((await post(signup, { email })).status).toBe(201);
  } finally {
    ses.restore();
  }
});
