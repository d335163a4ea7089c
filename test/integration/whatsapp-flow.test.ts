import { randomUUID } from 'node:crypto';
import { createEngine } from '#core/otp/engine';
import { runtime } from '#core/runtime';
import { handler as sendOtp } from '../../functions/whatsapp-send-otp';
import { handler as verifyOtp, makeHandler as makeVerifyOtp } from '../../functions/whatsapp-verify-otp';
import { handler as mobileSignup } from '../../functions/mobile-otp-signup';
import { handler as mobileVerify } from '../../functions/mobile-otp-verify';
import { call, event, inbox, latestCode, newTenant, uniqueIndianMobile, type Handler, type Response, type TestTenant } from '../support/harness';

/**
 * The WhatsApp OTP style (seed 004) with the document's own bodies and headers, through the real
 * handlers, DynamoDB Local and the local Twilio endpoint reached by the real twilio SDK.
 */

const sandbox = '+14155238886';
const contentSid = `HX${'0123456789abcdef'.repeat(2)}`;

let tenant: TestTenant;
let configUid: string;
let templateUid: string;
let shortUid: string;

beforeAll(async () => {
  configUid = randomUUID();
  templateUid = randomUUID();
  shortUid = randomUUID();
  tenant = await newTenant({
    settings: {
      appName: 'Acme',
      whatsappConfigs: {
        [configUid]: { from: sandbox },
        [templateUid]: { from: sandbox, contentSid },
        [shortUid]: { from: sandbox, codeLength: 8, otpTtlSeconds: 60 },
      },
    },
  });
});

/** A request as API Gateway hands it over for /otp/{otpId}/<action>, with the document's headers. */
const otpEvent = (action: 'sendOTP' | 'verifyOTP', otpId: string, body: unknown, headers: Record<string, string> = { 'X-API-KEY': tenant.appKey }) => ({
  ...event(tenant, { body, headers: { 'Content-Type': 'application/json', ...headers } }),
  rawPath: `/otp/${otpId}/${action}`,
  pathParameters: { otpId },
});

const send = (body: unknown, uid = configUid, headers?: Record<string, string>, handler: Handler = sendOtp) =>
  call(handler, otpEvent('sendOTP', uid, body, headers));
const verify = (id: string, body: unknown, headers?: Record<string, string>, handler: Handler = verifyOtp) =>
  call(handler, otpEvent('verifyOTP', id, body, headers));

/** The document's error shape, with the reason phrase of the status and the request's path. */
const expectSeedError = (res: Response, status: number, error: string, path: string) => {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({
    timestamp: expect.any(String),
    status,
    error,
    code: expect.any(String),
    message: expect.any(String),
    path,
    ...(res.body.attemptsRemaining === undefined ? {} : { attemptsRemaining: expect.any(Number) }),
  });
  expect(new Date(res.body.timestamp as string).toISOString()).toBe(res.body.timestamp);
};

const wrongCodeFor = (code: string) => (code.startsWith('0') ? `1${code.slice(1)}` : `0${code.slice(1)}`);

test("the document's flow: sendOTP 201 with an id, the code arrives over WhatsApp, verifyOTP 200", async () => {
  const mobileNumber = uniqueIndianMobile();
  const sent = await send({ name: 'Ana', mobileNumber, countryCode: '+91' });
  expect(sent.status).toBe(201);
  expect(sent.body).toEqual({ id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/), message: 'success' });

  const [message, ...older] = await inbox(`+91${mobileNumber}`);
  expect(older).toEqual([]);
  expect(message).toMatchObject({ channel: 'whatsapp', to: `+91${mobileNumber}`, code: expect.stringMatching(/^\d{6}$/) });
  expect(message!.body).toBe(`${message!.code} is your Acme verification code. For your security, do not share this code.`);

  const verified = await verify(sent.body.id, { otp: message!.code, mobileNumber, countryCode: '+91' });
  expect(verified.status).toBe(200);
  expect(verified.body).toEqual({ id: sent.body.id, message: 'success' });
});

test('the message goes from the configured WhatsApp sender to whatsapp:<E.164> through the twilio SDK', async () => {
  const mobileNumber = uniqueIndianMobile();
  await send({ name: 'Ana', mobileNumber, countryCode: '+91' });
  const stored = (await (await fetch(`${process.env.TWILIO_API_BASE_URL}/_local/messages`)).json()) as { to: string; from: string; channel: string }[];
  expect(stored.filter((m) => m.to === `+91${mobileNumber}`)).toEqual([expect.objectContaining({ channel: 'whatsapp', from: `whatsapp:${sandbox}` })]);
});

test('countryCode is accepted with or without +, and as a number', async () => {
  for (const [sendCc, verifyCc] of [['91', '+91'], ['+91', '91'], [91, '91']] as const) {
    const mobileNumber = uniqueIndianMobile();
    const sent = await send({ name: 'Ana', mobileNumber, countryCode: sendCc });
    expect(sent.status).toBe(201);
    const res = await verify(sent.body.id, { otp: await latestCode(`+91${mobileNumber}`), mobileNumber, countryCode: verifyCc });
    expect(res.status).toBe(200);
  }
});

test('an unknown otp_config_uid is 404 in the document shape, and nothing is sent', async () => {
  const mobileNumber = uniqueIndianMobile();
  for (const uid of [randomUUID(), 'not-a-uid', 'constructor']) {
    const res = await send({ name: 'Ana', mobileNumber, countryCode: '+91' }, uid);
    expectSeedError(res, 404, 'Not Found', `/otp/${uid}/sendOTP`);
    expect(res.body.code).toBe('otp_config_not_found');
  }
  expect(await inbox(`+91${mobileNumber}`)).toEqual([]);
});

test("another project's configuration is unknown to this key", async () => {
  const other = await newTenant();
  const res = await send({ name: 'Ana', mobileNumber: uniqueIndianMobile(), countryCode: '+91' }, configUid, { 'X-API-KEY': other.appKey });
  expectSeedError(res, 404, 'Not Found', `/otp/${configUid}/sendOTP`);
});

test('a wrong code is 403 with the attempts left; after five even the right code is 429', async () => {
  const mobileNumber = uniqueIndianMobile();
  const { body: sent } = await send({ name: 'Ana', mobileNumber, countryCode: '+91' });
  const code = await latestCode(`+91${mobileNumber}`);
  const path = `/otp/${sent.id}/verifyOTP`;

  const remaining: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const res = await verify(sent.id, { otp: wrongCodeFor(code), mobileNumber, countryCode: '+91' });
    expectSeedError(res, 403, 'Forbidden', path);
    expect(res.body.code).toBe('invalid_otp');
    remaining.push(res.body.attemptsRemaining);
  }
  expect(remaining).toEqual([4, 3, 2, 1, 0]);

  const right = await verify(sent.id, { otp: code, mobileNumber, countryCode: '+91' });
  expectSeedError(right, 429, 'Too Many Requests', path);
  expect(right.body.code).toBe('too_many_attempts');
});

test('a code works once: the second verify of the id is 404', async () => {
  const mobileNumber = uniqueIndianMobile();
  const { body: sent } = await send({ name: 'Ana', mobileNumber, countryCode: '+91' });
  const code = await latestCode(`+91${mobileNumber}`);
  expect((await verify(sent.id, { otp: code, mobileNumber, countryCode: '+91' })).status).toBe(200);
  const again = await verify(sent.id, { otp: code, mobileNumber, countryCode: '+91' });
  expectSeedError(again, 404, 'Not Found', `/otp/${sent.id}/verifyOTP`);
  expect(again.body.code).toBe('no_pending_otp');
});

describe('expiry (a clock injected into the engine, as mobile-flow does)', () => {
  const verifyAt = (offsetMs: number) => {
    const rt = runtime();
    return makeVerifyOtp({ tenants: rt.keyTenants, engine: createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper, now: () => Date.now() + offsetMs }) });
  };

  test('the project default: valid at 4:50, 410 in the document shape at 5:10', async () => {
    const early = uniqueIndianMobile();
    const { body: a } = await send({ name: 'Ana', mobileNumber: early, countryCode: '+91' });
    const ok = await verify(a.id, { otp: await latestCode(`+91${early}`), mobileNumber: early, countryCode: '+91' }, undefined, verifyAt(290_000));
    expect(ok.status).toBe(200);

    const late = uniqueIndianMobile();
    const { body: b } = await send({ name: 'Ana', mobileNumber: late, countryCode: '+91' });
    const res = await verify(b.id, { otp: await latestCode(`+91${late}`), mobileNumber: late, countryCode: '+91' }, undefined, verifyAt(310_000));
    expectSeedError(res, 410, 'Gone', `/otp/${b.id}/verifyOTP`);
    expect(res.body.code).toBe('otp_expired');
  });

  test("a configuration's own length and validity: 8 digits, valid at 0:50, gone at 1:10", async () => {
    const early = uniqueIndianMobile();
    const { body: a } = await send({ name: 'Ana', mobileNumber: early, countryCode: '+91' }, shortUid);
    const earlyCode = await latestCode(`+91${early}`);
    expect(earlyCode).toMatch(/^\d{8}$/);
    expect((await verify(a.id, { otp: earlyCode, mobileNumber: early, countryCode: '+91' }, undefined, verifyAt(50_000))).status).toBe(200);

    const late = uniqueIndianMobile();
    const { body: b } = await send({ name: 'Ana', mobileNumber: late, countryCode: '+91' }, shortUid);
    const res = await verify(b.id, { otp: await latestCode(`+91${late}`), mobileNumber: late, countryCode: '+91' }, undefined, verifyAt(70_000));
    expectSeedError(res, 410, 'Gone', `/otp/${b.id}/verifyOTP`);
  });
});

test('the id only works for the number it was sent to; a try with another number costs nothing', async () => {
  const a = uniqueIndianMobile();
  const b = uniqueIndianMobile();
  const { body: sentA } = await send({ name: 'Ana', mobileNumber: a, countryCode: '+91' });
  const codeA = await latestCode(`+91${a}`);
  const { body: sentB } = await send({ name: 'Bo', mobileNumber: b, countryCode: '+91' });
  const codeB = await latestCode(`+91${b}`);

  for (const [id, mobileNumber, otp] of [[sentA.id, b, codeB], [sentA.id, b, codeA], [sentB.id, a, codeA]] as const) {
    const res = await verify(id, { otp, mobileNumber, countryCode: '+91' });
    expectSeedError(res, 404, 'Not Found', `/otp/${id}/verifyOTP`);
  }
  expect((await verify(sentA.id, { otp: codeA, mobileNumber: a, countryCode: '+91' })).status).toBe(200);
  expect((await verify(sentB.id, { otp: codeB, mobileNumber: b, countryCode: '+91' })).status).toBe(200);
});

test("another project's key cannot verify this project's id", async () => {
  const other = await newTenant();
  const mobileNumber = uniqueIndianMobile();
  const { body: sent } = await send({ name: 'Ana', mobileNumber, countryCode: '+91' });
  const code = await latestCode(`+91${mobileNumber}`);

  const res = await verify(sent.id, { otp: code, mobileNumber, countryCode: '+91' }, { 'X-API-KEY': other.appKey });
  expectSeedError(res, 404, 'Not Found', `/otp/${sent.id}/verifyOTP`);
  expect((await verify(sent.id, { otp: code, mobileNumber, countryCode: '+91' })).status).toBe(200);
});

test('a configuration with a Content template sends ContentSid with the code as variable "1"', async () => {
  const mobileNumber = uniqueIndianMobile();
  const { body: sent } = await send({ name: 'Ana', mobileNumber, countryCode: '+91' }, templateUid);
  const [message] = await inbox(`+91${mobileNumber}`);
  expect(message).toMatchObject({ channel: 'whatsapp', to: `+91${mobileNumber}`, code: expect.stringMatching(/^\d{6}$/) });
  expect(message!.body).toBe(`Content template ${contentSid}: {{1}}=${message!.code}`);
  expect((await verify(sent.id, { otp: message!.code, mobileNumber, countryCode: '+91' })).status).toBe(200);
});

describe('every error in the document shape', () => {
  const somePath = () => `/otp/${configUid}/sendOTP`;

  test('401 without X-API-KEY, and with an unknown one', async () => {
    const body = { name: 'Ana', mobileNumber: uniqueIndianMobile(), countryCode: '+91' };
    const missing = await send(body, configUid, {});
    expectSeedError(missing, 401, 'Unauthorized', somePath());
    expect(missing.body).toMatchObject({ code: 'missing_app_key', message: 'The X-API-KEY header is required.' });
    const wrong = await send(body, configUid, { 'X-API-KEY': 'og_not-a-key' });
    expectSeedError(wrong, 401, 'Unauthorized', somePath());
    expect(wrong.body.code).toBe('invalid_app_key');
  });

  test.each<[string, unknown, RegExp]>([
    ['no mobileNumber', { name: 'Ana', countryCode: '+91' }, /^mobileNumber is required\.$/],
    ['a mobileNumber that is not a number', { mobileNumber: 'call me', countryCode: '+91' }, /^mobileNumber must be a phone number/],
    ['a number invalid for its country', { mobileNumber: '12345', countryCode: '+91' }, /^mobileNumber is not a valid phone number/],
    ['a countryCode that is not one', { mobileNumber: '9876543210', countryCode: 'India' }, /^countryCode must look like/],
    ['a countryCode no country has', { mobileNumber: '9876543210', countryCode: '+13' }, /^countryCode is not a country calling code\.$/],
    ['a name that is not a string', { name: 7, mobileNumber: '9876543210', countryCode: '+91' }, /^name must be a string\.$/],
  ])('sendOTP with %s is 400, naming the field', async (_, body, message) => {
    const res = await send(body);
    expectSeedError(res, 400, 'Bad Request', somePath());
    expect(res.body.message).toMatch(message);
  });

  test('a body that is not JSON is 400', async () => {
    const res = await call(sendOtp, { ...otpEvent('sendOTP', configUid, undefined), body: '{"mobileNumber":' });
    expectSeedError(res, 400, 'Bad Request', somePath());
  });

  test.each<[string, unknown]>([
    ['no otp', { mobileNumber: '9876543210', countryCode: '+91' }],
    ['an otp with letters', { otp: '12ab56', mobileNumber: '9876543210', countryCode: '+91' }],
    ['an otp of 3 digits', { otp: '123', mobileNumber: '9876543210', countryCode: '+91' }],
  ])('verifyOTP with %s is 400 and costs no attempt', async (_, body) => {
    const mobileNumber = uniqueIndianMobile();
    const { body: sent } = await send({ name: 'Ana', mobileNumber, countryCode: '+91' });
    const res = await verify(sent.id, { ...(body as object), mobileNumber });
    expectSeedError(res, 400, 'Bad Request', `/otp/${sent.id}/verifyOTP`);
    const wrong = await verify(sent.id, { otp: wrongCodeFor(await latestCode(`+91${mobileNumber}`)), mobileNumber, countryCode: '+91' });
    expect(wrong.body.attemptsRemaining).toBe(4);
  });

  test('verifyOTP of an id that was never issued is 404', async () => {
    for (const id of [randomUUID(), 'nope']) {
      const res = await verify(id, { otp: '123456', mobileNumber: uniqueIndianMobile(), countryCode: '+91' });
      expectSeedError(res, 404, 'Not Found', `/otp/${id}/verifyOTP`);
    }
  });

  test('502 when Twilio refuses the number', async () => {
    const res = await send({ name: 'Ana', mobileNumber: '2025550101', countryCode: '+1' });
    expectSeedError(res, 502, 'Bad Gateway', somePath());
    expect(res.body).toMatchObject({ code: 'delivery_failed', message: 'The WhatsApp message could not be sent; try again later.' });
  });

  test('500 (with nothing internal shown) when no WhatsApp sender is configured anywhere', async () => {
    const uid = randomUUID();
    const noSender = await newTenant({ settings: { whatsappConfigs: { [uid]: {} } } });
    const res = await send({ name: 'Ana', mobileNumber: uniqueIndianMobile(), countryCode: '+91' }, uid, { 'X-API-KEY': noSender.appKey });
    expectSeedError(res, 500, 'Internal Server Error', `/otp/${uid}/sendOTP`);
    expect(res.body).toMatchObject({ code: 'internal_error', message: 'Something went wrong on our side; try again later.' });
  });
});

describe('one phone number is one identity across styles and channels (one pending code)', () => {
  test('an SMS signup after sendOTP replaces the WhatsApp code: its id is 404, the SMS code verifies', async () => {
    const mobileNumber = uniqueIndianMobile();
    const { body: sent } = await send({ name: 'Ana', mobileNumber, countryCode: '+91' });
    const whatsappCode = await latestCode(`+91${mobileNumber}`);

    const signup = await call(mobileSignup, event(tenant, { appKey: tenant.appKey, body: { country_code: '+91', mobile: mobileNumber } }));
    expect(signup.status).toBe(201);
    const [sms, whatsapp] = await inbox(`+91${mobileNumber}`);
    expect([sms!.channel, whatsapp!.channel]).toEqual(['sms', 'whatsapp']);

    const stale = await verify(sent.id, { otp: whatsappCode, mobileNumber, countryCode: '+91' });
    expectSeedError(stale, 404, 'Not Found', `/otp/${sent.id}/verifyOTP`);
    const res = await call(mobileVerify, event(tenant, { appKey: tenant.appKey, body: { mobile: mobileNumber, otp_code: sms!.code } }));
    expect(res.status).toBe(200);
  });

  test('sendOTP to a signed-up user replaces the pending SMS code; the WhatsApp code verifies', async () => {
    const mobileNumber = uniqueIndianMobile();
    await call(mobileSignup, event(tenant, { appKey: tenant.appKey, body: { country_code: '+91', mobile: mobileNumber } }));
    const smsCode = await latestCode(`+91${mobileNumber}`);
    const { body: sent } = await send({ name: 'Ana', mobileNumber, countryCode: '+91' });
    const whatsappCode = await latestCode(`+91${mobileNumber}`);

    if (smsCode !== whatsappCode) {
      const old = await call(mobileVerify, event(tenant, { appKey: tenant.appKey, body: { mobile: mobileNumber, otp_code: smsCode } }));
      expect(old.body.error.code).toBe('invalid_otp');
    }
    expect((await verify(sent.id, { otp: whatsappCode, mobileNumber, countryCode: '+91' })).status).toBe(200);
  });
});
