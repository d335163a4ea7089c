import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { jest } from '@jest/globals';
import twilio from 'twilio';
import { runtime } from '#core/runtime';
import { phoneIdentity } from '#core/otp/identity';
import { createVerifyService, EnvironmentNotFoundError, listVerifyServices, verifyAccountSid } from '#core/tenancy/verify-services';
import { handler as createHandler } from '../../functions/twilio-verify-create';
import { handler as authenticate } from '../../functions/user-authenticate';
import { call, event, inbox, latestCode, newTenant, uniqueEmail, uniqueIndianMobile, type TestTenant } from '../support/harness';
import { startTestApi } from '../support/local-api';

/**
 * The Twilio Verify v2 API driven by the official twilio SDK's Verify client, pointed at the local
 * API (started in-process, wired as `npm start` wires it) by its base URL alone: real HTTP, real
 * handlers, DynamoDB Local and the local Twilio endpoint; codes read from the dev inbox.
 */

jest.setTimeout(60_000);

let api: Awaited<ReturnType<typeof startTestApi>>;
let origin: string;

beforeAll(async () => {
  api = await startTestApi();
  origin = `http://localhost:${api.port}`;
});

afterAll(async () => {
  await api?.close();
});

interface VerifyApp {
  readonly tenant: TestTenant;
  readonly serviceSid: string;
  readonly accountSid: string;
  readonly client: twilio.Twilio;
  readonly verify: ReturnType<twilio.Twilio['verify']['v2']['services']>;
}

/** An app as it runs against Twilio Verify, with the one change: the Verify base URL (and otpgate's credentials). */
const verifyApp = async (options: Parameters<typeof newTenant>[0] = {}): Promise<VerifyApp> => {
  const tenant = await newTenant(options);
  const service = await createVerifyService(runtime().repo, tenant, { friendlyName: 'test app' });
  const client = twilio(service.accountSid, tenant.appKey);
  client.verify.baseUrl = origin;
  return { tenant, serviceSid: service.serviceSid, accountSid: service.accountSid, client, verify: client.verify.v2.services(service.serviceSid) };
};

const indianNumber = () => `+91${uniqueIndianMobile()}`;
const wrongCodeFor = (code: string) => (code === '000000' ? '111111' : '000000');

/** The SDK's error for a request that failed: a RestException with Twilio's code and status. */
const restError = async (request: Promise<unknown>): Promise<InstanceType<typeof twilio.RestException>> => {
  try {
    await request;
  } catch (error) {
    if (error instanceof twilio.RestException) return error;
    throw error;
  }
  throw new Error('the request succeeded; expected a RestException');
};

const expectTwilioError = async (request: Promise<unknown>, status: number, code: number) => {
  const error = await restError(request);
  expect({ status: error.status, code: error.code }).toEqual({ status, code });
  expect(error.moreInfo).toBe(`https://www.twilio.com/docs/errors/${code}`);
  expect(error.message).toEqual(expect.any(String));
  return error;
};

/** A form post as curl sends it: Basic auth, form-encoded body. */
const formPost = async (path: string, fields: Record<string, string> | string, auth: string | undefined, contentType = 'application/x-www-form-urlencoded') => {
  const res = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(auth === undefined ? {} : { authorization: `Basic ${Buffer.from(auth).toString('base64')}` }) },
    body: typeof fields === 'string' ? fields : new URLSearchParams(fields).toString(),
  });
  return { status: res.status, headers: Object.fromEntries(res.headers), body: (await res.json()) as Record<string, any> };
};

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
afterAll(() => doc.destroy());

/** Moves a stored expiry into the past (the only way to see expiry without waiting minutes). */
const expire = (key: { pk: string; sk: string }) =>
  doc.send(new UpdateCommand({ TableName: process.env.TABLE_NAME!, Key: key, UpdateExpression: 'SET expiresAt = :past', ExpressionAttributeValues: { ':past': Date.now() - 1000 } }));
const codeKey = (t: TestTenant, e164: string) => ({ pk: `T#${t.projectId}#${t.environment}#OTP#phone#${e164}`, sk: 'OTP' });
const verificationKey = (t: TestTenant, sid: string) => ({ pk: `T#${t.projectId}#${t.environment}#VERIFICATION#${sid}`, sk: 'VERIFICATION' });

describe('the whole flow through the twilio SDK', () => {
  let app: VerifyApp;
  beforeAll(async () => {
    app = await verifyApp();
  });

  test('create texts a code and answers 201 with the verification resource', async () => {
    const to = indianNumber();
    const verification = await app.verify.verifications.create({ to, channel: 'sms' });
    expect(verification).toMatchObject({
      sid: expect.stringMatching(/^VE[0-9a-f]{32}$/),
      serviceSid: app.serviceSid,
      accountSid: app.accountSid,
      to,
      channel: 'sms',
      status: 'pending',
      valid: false,
      lookup: {},
      amount: null,
      payee: null,
      sna: null,
      sendCodeAttempts: [{ attempt_sid: expect.stringMatching(/^VL[0-9a-f]{32}$/), channel: 'sms', time: expect.any(String) }],
    });
    expect(verification.url).toBe(`https://otpgate.test/v2/Services/${app.serviceSid}/Verifications/${verification.sid}`);
    expect(verification.dateCreated).toBeInstanceOf(Date);
    expect(Math.abs(verification.dateCreated.getTime() - Date.now())).toBeLessThan(60_000);
    const [message] = await inbox(to);
    expect(message).toMatchObject({ channel: 'sms', to, code: expect.stringMatching(/^\d{6}$/) });
  });

  test('a wrong code is 200 pending; the right one 200 approved; then the verification is gone for checks (20404) and fetches as approved', async () => {
    const to = indianNumber();
    const { sid } = await app.verify.verifications.create({ to, channel: 'sms' });
    const code = await latestCode(to);

    const wrong = await app.verify.verificationChecks.create({ to, code: wrongCodeFor(code) });
    expect(wrong).toMatchObject({ sid, status: 'pending', valid: false, to, channel: 'sms', serviceSid: app.serviceSid, accountSid: app.accountSid });

    const right = await app.verify.verificationChecks.create({ to, code });
    expect(right).toMatchObject({ sid, status: 'approved', valid: true, to, channel: 'sms' });
    expect(right.dateUpdated).toBeInstanceOf(Date);

    const again = await expectTwilioError(app.verify.verificationChecks.create({ to, code }), 404, 20404);
    expect(again.message).toBe(`The requested resource /Services/${app.serviceSid}/VerificationCheck was not found`);
    expect(await app.verify.verifications(sid).fetch()).toMatchObject({ sid, status: 'approved', valid: true, to });
  });

  test('a check may name the verification by VerificationSid; To, when given too, must be its number', async () => {
    const to = indianNumber();
    const { sid } = await app.verify.verifications.create({ to, channel: 'sms' });
    const code = await latestCode(to);
    await expectTwilioError(app.verify.verificationChecks.create({ verificationSid: sid, to: indianNumber(), code }), 404, 20404);
    expect(await app.verify.verificationChecks.create({ verificationSid: sid, code })).toMatchObject({ sid, status: 'approved', valid: true });
  });

  test('a resend within a pending verification keeps its sid and adds an attempt; only the latest code works', async () => {
    const to = indianNumber();
    const first = await app.verify.verifications.create({ to, channel: 'sms' });
    const firstCode = await latestCode(to);
    const second = await app.verify.verifications.create({ to, channel: 'sms' });
    expect(second.sid).toBe(first.sid);
    expect(second.sendCodeAttempts).toHaveLength(2);
    expect(new Set(second.sendCodeAttempts.map((a: { attempt_sid: string }) => a.attempt_sid)).size).toBe(2);
    const secondCode = await latestCode(to);
    if (secondCode !== firstCode) {
      expect(await app.verify.verificationChecks.create({ to, code: firstCode })).toMatchObject({ status: 'pending', valid: false });
    }
    expect(await app.verify.verificationChecks.create({ to, code: secondCode })).toMatchObject({ sid: first.sid, status: 'approved' });
    // Once approved, the next create starts a new verification.
    const third = await app.verify.verifications.create({ to, channel: 'sms' });
    expect(third.sid).not.toBe(first.sid);
    expect(third.sendCodeAttempts).toHaveLength(1);
  });

  test('update to canceled: the verification is canceled, its code works nowhere, and the next create is a new verification', async () => {
    const to = indianNumber();
    const { sid } = await app.verify.verifications.create({ to, channel: 'sms' });
    const code = await latestCode(to);
    const canceled = await app.verify.verifications(sid).update({ status: 'canceled' });
    expect(canceled).toMatchObject({ sid, status: 'canceled', valid: false, to });

    await expectTwilioError(app.verify.verificationChecks.create({ to, code }), 404, 20404);
    await expectTwilioError(app.verify.verificationChecks.create({ verificationSid: sid, code }), 404, 20404);
    expect(await app.verify.verifications(sid).fetch()).toMatchObject({ status: 'canceled' });
    // The engine's code itself was withdrawn: another style of the same project cannot use it either.
    const other = await call(authenticate, {
      ...event(app.tenant, { body: { idType: 'smsVerificationCode', phoneNumber: to, verificationCode: code }, headers: { 'x-api-key': app.tenant.appKey } }),
      pathParameters: undefined,
    });
    expect(other.body.error).toMatchObject({ code: 'no_pending_otp' });
    // A canceled verification cannot be updated again.
    await expectTwilioError(app.verify.verifications(sid).update({ status: 'approved' }), 404, 20404);

    const next = await app.verify.verifications.create({ to, channel: 'sms' });
    expect(next.sid).not.toBe(sid);
  });

  test('update to approved marks it approved and withdraws the code', async () => {
    const to = indianNumber();
    const { sid } = await app.verify.verifications.create({ to, channel: 'sms' });
    const code = await latestCode(to);
    expect(await app.verify.verifications(sid).update({ status: 'approved' })).toMatchObject({ sid, status: 'approved', valid: true });
    await expectTwilioError(app.verify.verificationChecks.create({ to, code }), 404, 20404);
  });

  test('email: the code goes by email, and a check by To finds it whatever the case of the address', async () => {
    const to = uniqueEmail();
    const verification = await app.verify.verifications.create({ to: to.toUpperCase(), channel: 'email' });
    expect(verification).toMatchObject({ to, channel: 'email', status: 'pending' });
    const [message] = await inbox(to);
    expect(message).toMatchObject({ channel: 'email', to });
    expect(await app.verify.verificationChecks.create({ to, code: message!.code! })).toMatchObject({ status: 'approved', valid: true, channel: 'email' });
  });

  test('whatsapp: sent with the WhatsApp configuration the project names for Verify', async () => {
    const uid = randomUUID();
    const wa = await verifyApp({ settings: { whatsappConfigs: { [uid]: { from: '+14155238886' } }, twilioVerifyWhatsappConfig: uid } });
    const to = indianNumber();
    expect(await wa.verify.verifications.create({ to, channel: 'whatsapp' })).toMatchObject({ channel: 'whatsapp', status: 'pending' });
    const [message] = await inbox(to);
    expect(message).toMatchObject({ channel: 'whatsapp', to });
    expect(await wa.verify.verificationChecks.create({ to, code: message!.code! })).toMatchObject({ status: 'approved', channel: 'whatsapp' });
  });

  test('CustomFriendlyName names the app in the message; AppHash ends the SMS on its own line; Locale is accepted', async () => {
    const to = indianNumber();
    await app.verify.verifications.create({ to, channel: 'sms', customFriendlyName: 'Acme Shop', appHash: 'He42w354ol9', locale: 'pt-BR' });
    const [message] = await inbox(to);
    expect(message!.body).toContain('is your Acme Shop code');
    expect(message!.body.endsWith('\nHe42w354ol9')).toBe(true);
    expect(message!.code).toMatch(/^\d{6}$/);
  });

  test('Amount and Payee are shown back', async () => {
    const to = indianNumber();
    const verification = await app.verify.verifications.create({ to, channel: 'sms', amount: '€39.99', payee: 'Acme Inc.' });
    expect(verification).toMatchObject({ amount: '€39.99', payee: 'Acme Inc.' });
    expect(await app.verify.verifications(verification.sid).fetch()).toMatchObject({ amount: '€39.99', payee: 'Acme Inc.' });
  });
});

describe('CustomCode', () => {
  test('refused with 60204 unless the project enables twilioVerifyCustomCode', async () => {
    const app = await verifyApp();
    const to = indianNumber();
    await expectTwilioError(app.verify.verifications.create({ to, channel: 'sms', customCode: '482913' }), 403, 60204);
    expect(await inbox(to)).toEqual([]);
  });

  test('where enabled, the chosen code is sent and verifies once', async () => {
    const app = await verifyApp({ settings: { twilioVerifyCustomCode: true } });
    const to = indianNumber();
    await app.verify.verifications.create({ to, channel: 'sms', customCode: '48291375' });
    expect(await latestCode(to)).toBe('48291375');
    expect(await app.verify.verificationChecks.create({ to, code: '48291375' })).toMatchObject({ status: 'approved' });
    await expectTwilioError(app.verify.verificationChecks.create({ to, code: '48291375' }), 404, 20404);
  });
});

describe('DeviceIp: the per-IP send limit', () => {
  test("applies per end-user IP when DeviceIp is given (sendsPerIpPerHourByStyle['twilio-verify']); without it, no per-IP limit", async () => {
    const app = await verifyApp({ settings: { sendsPerIpPerHourByStyle: { 'twilio-verify': 2 } } });
    const deviceIp = `203.0.113.${1 + (randomBytes(1)[0]! % 250)}`;
    await app.verify.verifications.create({ to: indianNumber(), channel: 'sms', deviceIp });
    await app.verify.verifications.create({ to: indianNumber(), channel: 'sms', deviceIp });
    const to = indianNumber();
    await expectTwilioError(app.verify.verifications.create({ to, channel: 'sms', deviceIp }), 429, 20429);
    expect(await inbox(to)).toEqual([]);
    // Another user's IP, or none at all (the SDK's own server IP is never counted).
    await app.verify.verifications.create({ to, channel: 'sms', deviceIp: '198.51.100.7' });
    await app.verify.verifications.create({ to: indianNumber(), channel: 'sms' });
    await expectTwilioError(app.verify.verifications.create({ to: indianNumber(), channel: 'sms', deviceIp: 'not-an-ip' }), 400, 60200);
  });
});

describe('every error, as the SDK reports it', () => {
  let app: VerifyApp;
  beforeAll(async () => {
    app = await verifyApp();
  });

  test('20003: a wrong key, a key of another project, another account id, an unknown or malformed ServiceSid', async () => {
    const other = await verifyApp();
    const to = indianNumber();
    const clientWith = (accountSid: string, key: string) => {
      const client = twilio(accountSid, key);
      client.verify.baseUrl = origin;
      return client;
    };
    const attempts = [
      clientWith(app.accountSid, `og_${randomBytes(32).toString('base64url')}`).verify.v2.services(app.serviceSid),
      clientWith(app.accountSid, other.tenant.appKey).verify.v2.services(app.serviceSid),
      clientWith(other.accountSid, other.tenant.appKey).verify.v2.services(app.serviceSid),
      clientWith(other.accountSid, app.tenant.appKey).verify.v2.services(app.serviceSid),
      clientWith(app.accountSid, app.tenant.appKey).verify.v2.services(`VA${randomBytes(16).toString('hex')}`),
      clientWith(app.accountSid, app.tenant.appKey).verify.v2.services('VAnot-a-sid'),
    ];
    for (const service of attempts) {
      const error = await expectTwilioError(service.verifications.create({ to, channel: 'sms' }), 401, 20003);
      expect(error.message).toBe('Authenticate');
    }
    expect(await inbox(to)).toEqual([]);
  });

  test('a key of another environment of the same project is refused too', async () => {
    const app2 = await verifyApp({ environments: ['development', 'production'] });
    const client = twilio(app2.accountSid, app2.tenant.keys.production!);
    client.verify.baseUrl = origin;
    await expectTwilioError(client.verify.v2.services(app2.serviceSid).verifications.create({ to: indianNumber(), channel: 'sms' }), 401, 20003);
  });

  test('60200: a number that is not one, an email on the sms channel, an unknown channel, a missing or malformed Code, a check naming nothing', async () => {
    const bad = await expectTwilioError(app.verify.verifications.create({ to: '+91123', channel: 'sms' }), 400, 60200);
    expect(bad.message).toMatch(/^Invalid parameter `To`: /);
    await expectTwilioError(app.verify.verifications.create({ to: 'ana@example.com', channel: 'sms' }), 400, 60200);
    await expectTwilioError(app.verify.verifications.create({ to: 'not an email', channel: 'email' }), 400, 60200);
    const channel = await expectTwilioError(app.verify.verifications.create({ to: indianNumber(), channel: 'pigeon' }), 400, 60200);
    expect(channel.message).toMatch(/^Invalid parameter `Channel`: /);
    await expectTwilioError(app.verify.verificationChecks.create({ to: indianNumber() }), 400, 60200);
    await expectTwilioError(app.verify.verificationChecks.create({ to: indianNumber(), code: '12ab56' }), 400, 60200);
    await expectTwilioError(app.verify.verificationChecks.create({ code: '123456' }), 400, 60200);
    await expectTwilioError(app.verify.verifications.create({ to: indianNumber(), channel: 'sms', locale: 'not a locale' }), 400, 60200);
  });

  test("60223: Verify's channels otpgate does not send by (call, sna, auto)", async () => {
    const to = indianNumber();
    for (const channel of ['call', 'sna', 'auto']) {
      const error = await expectTwilioError(app.verify.verifications.create({ to, channel }), 400, 60223);
      expect(error.message).toContain(channel);
    }
    expect(await inbox(to)).toEqual([]);
  });

  test('60202: the check after maxAttempts (5) wrong codes, even with the right code; the verification shows max_attempts_reached', async () => {
    const to = indianNumber();
    const { sid } = await app.verify.verifications.create({ to, channel: 'sms' });
    const code = await latestCode(to);
    for (let i = 0; i < 5; i += 1) {
      expect(await app.verify.verificationChecks.create({ to, code: wrongCodeFor(code) })).toMatchObject({ status: 'pending', valid: false });
    }
    const error = await expectTwilioError(app.verify.verificationChecks.create({ to, code }), 429, 60202);
    expect(error.message).toBe('Max check attempts reached');
    expect(await app.verify.verifications(sid).fetch()).toMatchObject({ status: 'max_attempts_reached', valid: false });
    await expectTwilioError(app.verify.verificationChecks.create({ verificationSid: sid, code }), 429, 60202);
  });

  test('60203: more sends to one number than sendsPerIdentifierPerHour (5 by default) allows', async () => {
    const limited = await verifyApp({ limits: 'defaults', settings: { resendCooldownSeconds: 0 } });
    const to = indianNumber();
    for (let i = 0; i < 5; i += 1) await limited.verify.verifications.create({ to, channel: 'sms' });
    const error = await expectTwilioError(limited.verify.verifications.create({ to, channel: 'sms' }), 429, 60203);
    expect(error.message).toBe('Max send attempts reached');
    expect(await inbox(to)).toHaveLength(5);
  });

  test('20429: a resend within resendCooldownSeconds (with Retry-After), as for the project budget and per-IP limits', async () => {
    const limited = await verifyApp({ limits: 'defaults' });
    const to = indianNumber();
    await limited.verify.verifications.create({ to, channel: 'sms' });
    await expectTwilioError(limited.verify.verifications.create({ to, channel: 'sms' }), 429, 20429);
    const res = await formPost(`/v2/Services/${limited.serviceSid}/Verifications`, { To: to, Channel: 'sms' }, `${limited.accountSid}:${limited.tenant.appKey}`);
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(await inbox(to)).toHaveLength(1);
  });

  test("60410: a number of a country the project does not allow (by default only its default country's)", async () => {
    const limited = await verifyApp({ limits: 'defaults' });
    const to = '+12015550123';
    await expectTwilioError(limited.verify.verifications.create({ to, channel: 'sms' }), 403, 60410);
    expect(await inbox(to)).toEqual([]);
  });

  test('60212: a create while another create for the same number is still sending', async () => {
    const to = indianNumber();
    // What a create in flight holds: the claim on the number.
    const held = await runtime().verifications.claim(app.tenant, app.serviceSid, phoneIdentity(to), randomUUID(), Date.now(), 15_000);
    expect(held).not.toBe('busy');
    const error = await expectTwilioError(app.verify.verifications.create({ to, channel: 'sms' }), 429, 60212);
    expect(error.message).toBe('Too many concurrent requests for phone number');
    expect(await inbox(to)).toEqual([]);
  });

  test('20404: an expired code, an expired verification, an unknown sid, a number with no verification, another service’s verification', async () => {
    const codeExpired = indianNumber();
    const first = await app.verify.verifications.create({ to: codeExpired, channel: 'sms' });
    const code = await latestCode(codeExpired);
    await expire(codeKey(app.tenant, codeExpired));
    await expectTwilioError(app.verify.verificationChecks.create({ to: codeExpired, code }), 404, 20404);
    expect(await app.verify.verifications(first.sid).fetch()).toMatchObject({ status: 'expired' });

    const verificationExpired = indianNumber();
    const second = await app.verify.verifications.create({ to: verificationExpired, channel: 'sms' });
    await expire(verificationKey(app.tenant, second.sid));
    await expectTwilioError(app.verify.verificationChecks.create({ to: verificationExpired, code: await latestCode(verificationExpired) }), 404, 20404);
    expect(await app.verify.verifications(second.sid).fetch()).toMatchObject({ status: 'expired' });
    await expectTwilioError(app.verify.verifications(second.sid).update({ status: 'canceled' }), 404, 20404);

    const unknown = `VE${randomBytes(16).toString('hex')}`;
    const fetched = await expectTwilioError(app.verify.verifications(unknown).fetch(), 404, 20404);
    expect(fetched.message).toBe(`The requested resource /Services/${app.serviceSid}/Verifications/${unknown} was not found`);
    await expectTwilioError(app.verify.verifications('VEnope').fetch(), 404, 20404);
    await expectTwilioError(app.verify.verificationChecks.create({ verificationSid: unknown, code: '123456' }), 404, 20404);
    await expectTwilioError(app.verify.verificationChecks.create({ to: indianNumber(), code: '123456' }), 404, 20404);

    // A second service of the same environment sees none of the first one's verifications.
    const sibling = await createVerifyService(runtime().repo, app.tenant, { friendlyName: 'sibling' });
    const siblingVerify = app.client.verify.v2.services(sibling.serviceSid);
    const to = indianNumber();
    const mine = await app.verify.verifications.create({ to, channel: 'sms' });
    await expectTwilioError(siblingVerify.verifications(mine.sid).fetch(), 404, 20404);
    await expectTwilioError(siblingVerify.verificationChecks.create({ to, code: await latestCode(to) }), 404, 20404);
  });

  test("delivery: Twilio's invalid-number refusal is Verify's 60200; an unreachable number a retryable 503 (20503)", async () => {
    const anywhere = await verifyApp({ settings: { allowedCountries: ['*'] } });
    await expectTwilioError(anywhere.verify.verifications.create({ to: '+12025550101', channel: 'sms' }), 400, 60200);
    await expectTwilioError(anywhere.verify.verifications.create({ to: '+12025550102', channel: 'sms' }), 503, 20503);
    // The failed send left no verification behind: the number has none to check.
    await expectTwilioError(anywhere.verify.verificationChecks.create({ to: '+12025550102', code: '123456' }), 404, 20404);
  });
});

describe('plain form posts, as curl sends them', () => {
  let app: VerifyApp;
  let auth: string;
  beforeAll(async () => {
    app = await verifyApp();
    auth = `${app.accountSid}:${app.tenant.appKey}`;
  });

  test('create, check and fetch with --data-urlencode and -u', async () => {
    const to = indianNumber();
    const created = await formPost(`/v2/Services/${app.serviceSid}/Verifications`, { To: to, Channel: 'sms' }, auth);
    expect(created.status).toBe(201);
    expect(created.headers['content-type']).toMatch(/^application\/json/);
    expect(created.body).toMatchObject({ sid: expect.stringMatching(/^VE/), status: 'pending', valid: false, to, channel: 'sms', date_created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });

    const checked = await formPost(`/v2/Services/${app.serviceSid}/VerificationCheck`, { To: to, Code: await latestCode(to) }, auth);
    expect(checked).toMatchObject({ status: 200, body: { sid: created.body.sid, status: 'approved', valid: true } });

    const fetched = await fetch(`${origin}/v2/Services/${app.serviceSid}/Verifications/${created.body.sid}`, {
      headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}` },
    });
    expect(fetched.status).toBe(200);
    expect(await fetched.json()).toMatchObject({ sid: created.body.sid, status: 'approved' });
  });

  test("no credentials: 401 20003 in Twilio's shape, with a Basic challenge", async () => {
    const res = await formPost(`/v2/Services/${app.serviceSid}/Verifications`, { To: indianNumber(), Channel: 'sms' }, undefined);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
    expect(res.headers['www-authenticate']).toBe('Basic realm="otpgate"');
  });

  test('a JSON body is refused with 60200 (Twilio takes forms)', async () => {
    const res = await formPost(`/v2/Services/${app.serviceSid}/Verifications`, JSON.stringify({ To: indianNumber(), Channel: 'sms' }), auth, 'application/json');
    expect(res).toMatchObject({ status: 400, body: { code: 60200, status: 400, message: expect.stringContaining('form-encoded') } });
  });

  test('a + sent unencoded (read as a space) is refused with a hint, not read as a national number', async () => {
    const to = indianNumber();
    const res = await formPost(`/v2/Services/${app.serviceSid}/Verifications`, `To=${to}&Channel=sms`, auth);
    expect(res).toMatchObject({ status: 400, body: { code: 60200, message: expect.stringContaining('--data-urlencode') } });
    expect(await inbox(to)).toEqual([]);
  });

  test("paths are Twilio's exactly: /v2/services/… (lower case) is not a route", async () => {
    const res = await formPost(`/v2/services/${app.serviceSid}/Verifications`, { To: indianNumber(), Channel: 'sms' }, auth);
    expect(res.status).toBe(404);
  });
});

describe('API Gateway', () => {
  test('a base64-encoded form body (as HTTP APIs hand forms over) is read like any other', async () => {
    const app = await verifyApp();
    const to = indianNumber();
    const res = await call(createHandler, {
      ...event(app.tenant, {
        rawBody: Buffer.from(new URLSearchParams({ To: to, Channel: 'sms' }).toString()).toString('base64'),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${app.accountSid}:${app.tenant.appKey}`).toString('base64')}` },
      }),
      isBase64Encoded: true,
      rawPath: `/v2/Services/${app.serviceSid}/Verifications`,
      pathParameters: { ServiceSid: app.serviceSid },
    });
    expect(res).toMatchObject({ status: 201, body: { to, status: 'pending' } });
    expect(await inbox(to)).toHaveLength(1);
  });
});

describe('Verify services', () => {
  test('belong to an existing environment; the account id is the environment’s, stable; listing shows only that environment’s', async () => {
    const tenant = await newTenant({ environments: ['development', 'production'] });
    const repo = runtime().repo;
    const dev = await createVerifyService(repo, tenant, { friendlyName: 'Dev app' });
    const dev2 = await createVerifyService(repo, tenant);
    const prod = await createVerifyService(repo, { projectId: tenant.projectId, environment: 'production' });
    expect(dev.serviceSid).toMatch(/^VA[0-9a-f]{32}$/);
    expect(dev.accountSid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(dev2.accountSid).toBe(dev.accountSid);
    expect(dev.accountSid).toBe(verifyAccountSid(tenant));
    expect(prod.accountSid).not.toBe(dev.accountSid);
    expect((await listVerifyServices(repo, tenant)).map((s) => s.serviceSid).sort()).toEqual([dev.serviceSid, dev2.serviceSid].sort());
    expect(await listVerifyServices(repo, { projectId: tenant.projectId, environment: 'production' })).toEqual([prod]);
    await expect(createVerifyService(repo, { projectId: tenant.projectId, environment: 'staging' })).rejects.toBeInstanceOf(EnvironmentNotFoundError);
    await expect(createVerifyService(repo, { projectId: 'no-such-project', environment: 'development' })).rejects.toBeInstanceOf(EnvironmentNotFoundError);
  });

  test('a claim on a number lets one create through at a time and lapses after its hold', async () => {
    const tenant = await newTenant();
    const store = runtime().verifications;
    const id = phoneIdentity(indianNumber());
    const at = Date.now();
    expect(await store.claim(tenant, 'VA1', id, 'a', at, 15_000)).toEqual({ currentSid: undefined });
    expect(await store.claim(tenant, 'VA1', id, 'b', at + 1_000, 15_000)).toBe('busy');
    // Another service's claim on the same number is its own.
    expect(await store.claim(tenant, 'VA2', id, 'c', at + 1_000, 15_000)).toEqual({ currentSid: undefined });
    await store.point(tenant, 'VA1', id, 'a', 'VEone', at + 60_000);
    expect(await store.claim(tenant, 'VA1', id, 'd', at + 2_000, 15_000)).toEqual({ currentSid: 'VEone' });
    // A claim whose holder died lapses: the next create goes through after the hold.
    expect(await store.claim(tenant, 'VA1', id, 'e', at + 20_000, 15_000)).toEqual({ currentSid: 'VEone' });
    // A stale holder's release or point changes nothing.
    await store.release(tenant, 'VA1', id, 'd');
    await store.point(tenant, 'VA1', id, 'd', 'VEstale', at + 60_000);
    expect(await store.currentSid(tenant, 'VA1', id)).toBe('VEone');
    expect(await store.claim(tenant, 'VA1', id, 'f', at + 21_000, 15_000)).toBe('busy');
  });
});
