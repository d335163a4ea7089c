import { randomInt } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { jest } from '@jest/globals';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { createEngine } from '#core/otp/engine';
import { runtime } from '#core/runtime';
import { handler as send } from '../../functions/send-verification-code';
import { handler as authenticate, makeHandler as makeAuthenticate } from '../../functions/user-authenticate';
import { handler as signup } from '../../functions/mobile-otp-signup';
import { handler as login } from '../../functions/mobile-otp-login';
import { handler as verify } from '../../functions/mobile-otp-verify';
import { handler as jwks } from '../../functions/jwks';
import { handler as refresh } from '../../functions/token-refresh';
import { call, event, inbox, latestCode, newTenant, uniqueIndianMobile, type Handler, type Response, type TestTenant } from '../support/harness';

/**
 * The verification-id API of seed 003 through the real handlers, DynamoDB Local and the local
 * Twilio endpoint: the seed's own bodies and headers, its envelope, and one user per number
 * across this style and the mobile/email style.
 */

let tenant: TestTenant;
beforeAll(async () => {
  tenant = await newTenant({ environments: ['development', 'production'] });
});

/** A fresh valid US number in the seed's formatting, "+1(201)555-0123" style (the seed's own 555-987-6543 is fictional). */
const usNumber = () => {
  const exchange = String(randomInt(200, 1000));
  const line = String(randomInt(0, 10_000)).padStart(4, '0');
  return { formatted: `+1(201)${exchange}-${line}`, e164: `+1201${exchange}${line}`, exchange, line };
};

/** What the seed sends: POST with exactly its two headers and no project in the path. */
const v1Event = (path: string, body: unknown, headers: Record<string, string>): APIGatewayProxyEventV2 => {
  const base = event({ projectId: '', environment: '' }, typeof body === 'string' ? { rawBody: body } : { body });
  return {
    ...base,
    routeKey: `POST ${path}`,
    rawPath: path,
    headers,
    pathParameters: undefined,
    requestContext: { ...base.requestContext, routeKey: `POST ${path}`, http: { ...base.requestContext.http, path } },
  };
};

const seedHeaders = (key: string | null): Record<string, string> => ({
  'Content-Type': 'application/json',
  ...(key === null ? {} : { 'x-api-key': key }),
});

/** Calls a /v1 route (with this file's key unless told; null sends none); returns the response and the request id. */
const postV1 = async (handler: Handler, path: string, body: unknown, key: string | null = tenant.appKey) => {
  const ev = v1Event(path, body, seedHeaders(key));
  return { ...(await call(handler, ev)), requestId: ev.requestContext.requestId };
};
const sendCode = (phoneNumber: string, key?: string | null) => postV1(send, '/v1/send-verification-code', { phoneNumber }, key);
const authenticateWith = (body: unknown, key?: string | null, handler: Handler = authenticate) => postV1(handler, '/v1/user/authenticate', body, key);
const seedAuthBody = (phoneNumber: string, verificationCode: string) => ({ idType: 'smsVerificationCode', phoneNumber, verificationCode });

/** Every error: the core's status and code, in this style's envelope, with the request id as traceId. */
const expectError = (res: Response & { requestId: string }, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ status: 'error', traceId: res.requestId, error: expect.objectContaining({ code, message: expect.any(String) }) });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
};

const wrongCodeFor = (code: string) => (code === '000000' ? '111111' : '000000');

const tenantJwks = async (t: { projectId: string; environment: string }) =>
  createLocalJWKSet((await call(jwks, event(t, { method: 'GET' }))).body as never);

const verifyToken = async (token: string, t: { projectId: string; environment: string } = tenant) =>
  (await jwtVerify(token, await tenantJwks(t), { issuer: `https://otpgate.test/auth/${t.projectId}/${t.environment}`, audience: t.projectId })).payload;

describe('the seed flow, with its own bodies and headers', () => {
  test('send-verification-code texts a code and answers the verificationId in the success envelope', async () => {
    const phone = usNumber();
    const res = await sendCode(phone.formatted);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'success', traceId: res.requestId, data: { verificationId: expect.any(String) } });

    const messages = await inbox(phone.e164);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ channel: 'sms', to: phone.e164, code: expect.stringMatching(/^\d{6}$/) });
  });

  test('user/authenticate returns a 2-hour ES256 token that verifies against the JWKS, sub = publicUserId', async () => {
    const phone = usNumber();
    await sendCode(phone.formatted);
    const res = await authenticateWith(seedAuthBody(phone.formatted, await latestCode(phone.e164)));

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: 'success',
      traceId: res.requestId,
      data: { token: expect.any(String), expiresAtIso8601: expect.any(String), publicUserId: expect.any(String), refreshToken: expect.stringMatching(/^ogr_/) },
    });
    const { data } = res.body;
    const payload = await verifyToken(data.token);
    expect(payload).toMatchObject({ sub: data.publicUserId, phone_number: phone.e164, env: 'development' });
    expect(payload.exp! - payload.iat!).toBe(7200);
    expect(new Date(payload.exp! * 1000).toISOString()).toBe(data.expiresAtIso8601);

    // The refresh token is the same kind every style returns: it renews the session at token/refresh.
    const renewed = await call(refresh, event(tenant, { body: { refresh_token: data.refreshToken }, appKey: tenant.appKey }));
    expect(renewed.status).toBe(200);
    expect(renewed.body.user_id).toBe(data.publicUserId);
  });

  test("the seed's example number +1(555)987-6543 is fictional: 400 invalid_mobile, nothing sent", async () => {
    const res = await sendCode('+1(555)987-6543');
    expectError(res, 400, 'invalid_mobile');
    expect(res.body.error).toMatchObject({ field: 'phoneNumber', message: expect.stringMatching(/^phoneNumber /) });
    expect(await inbox('+15559876543')).toEqual([]);
  });
});

describe('phone numbers', () => {
  test('any formatting reaches the same number: spaces, dots, typographic dashes, brackets', async () => {
    const phone = usNumber();
    const forms = [
      `+1 (201) ${phone.exchange}-${phone.line}`,
      `+1.201.${phone.exchange}.${phone.line}`,
      `+1 201\u2013${phone.exchange}\u2013${phone.line}`,
      `+1 [201] ${phone.exchange} ${phone.line}`,
      `001 201 ${phone.exchange} ${phone.line}`,
    ];
    for (const form of forms) expect((await sendCode(form)).status).toBe(200);
    expect(await inbox(phone.e164)).toHaveLength(forms.length);
    // The latest code, read back under yet another formatting.
    const res = await authenticateWith(seedAuthBody(phone.e164, await latestCode(phone.e164)));
    expect(res.status).toBe(200);
  });

  test("a national number is in the project's default country", async () => {
    const us = await newTenant({ settings: { defaultCountryCode: '+1' } });
    const phone = usNumber();
    expect((await sendCode(`(201) ${phone.exchange}-${phone.line}`, us.appKey)).status).toBe(200);
    expect(await inbox(phone.e164)).toHaveLength(1);

    // This file's main project has the deployment's default, +91.
    const mobile = uniqueIndianMobile();
    expect((await sendCode(mobile)).status).toBe(200);
    expect(await inbox(`+91${mobile}`)).toHaveLength(1);
  });

  test('a country the project does not allow is refused before anything is sent', async () => {
    const indiaOnly = await newTenant({ settings: { allowedCountries: ['IN'] } });
    const phone = usNumber();
    expectError(await sendCode(phone.formatted, indiaOnly.appKey), 403, 'country_not_allowed');
    expect(await inbox(phone.e164)).toEqual([]);
  });
});

describe('users', () => {
  test('the first authentication creates the user; the next one is the same user; another number is another user', async () => {
    const phone = usNumber();
    await sendCode(phone.formatted);
    const first = await authenticateWith(seedAuthBody(phone.formatted, await latestCode(phone.e164)));
    await sendCode(phone.formatted);
    const second = await authenticateWith(seedAuthBody(phone.formatted, await latestCode(phone.e164)));
    expect(second.body.data.publicUserId).toBe(first.body.data.publicUserId);

    const other = usNumber();
    await sendCode(other.formatted);
    const third = await authenticateWith(seedAuthBody(other.formatted, await latestCode(other.e164)));
    expect(third.body.data.publicUserId).not.toBe(first.body.data.publicUserId);
  });

  test('signed up through mobile-otp-signup, authenticated here: the same user', async () => {
    const mobile = uniqueIndianMobile();
    const created = await call(signup, event(tenant, { body: { country_code: '+91', mobile }, appKey: tenant.appKey }));
    expect(created.status).toBe(201);

    await sendCode(`+91 ${mobile}`);
    const res = await authenticateWith(seedAuthBody(`+91${mobile}`, await latestCode(`+91${mobile}`)));
    expect(res.status).toBe(200);
    expect(res.body.data.publicUserId).toBe(created.body.user_id);
    expect((await verifyToken(res.body.data.token)).sub).toBe(created.body.user_id);
  });

  test('authenticated here first: mobile-otp-login knows the user, mobile-otp-verify returns it, signup says it exists', async () => {
    const mobile = uniqueIndianMobile();
    await sendCode(`+91${mobile}`);
    const res = await authenticateWith(seedAuthBody(`+91${mobile}`, await latestCode(`+91${mobile}`)));
    const { publicUserId } = res.body.data;

    const mobileStyle = (handler: Handler, body: unknown) => call(handler, event(tenant, { body, appKey: tenant.appKey }));
    const loggedIn = await mobileStyle(login, { mobile });
    expect(loggedIn.status).toBe(200);
    expect(loggedIn.body.user_id).toBe(publicUserId);
    const verified = await mobileStyle(verify, { mobile, otp_code: await latestCode(`+91${mobile}`) });
    expect(verified.status).toBe(200);
    expect(verified.body.user_id).toBe(publicUserId);
    expect((await mobileStyle(signup, { country_code: '+91', mobile })).body.error.code).toBe('user_exists');
  });
});

describe('keys', () => {
  test('no x-api-key: 401 missing_app_key; an unknown one: 401 invalid_app_key; nothing sent either way', async () => {
    const phone = usNumber();
    expectError(await sendCode(phone.formatted, null), 401, 'missing_app_key');
    expectError(await sendCode(phone.formatted, 'og_not-a-key'), 401, 'invalid_app_key');
    expect(await inbox(phone.e164)).toEqual([]);
    expectError(await authenticateWith(seedAuthBody(phone.formatted, '123456'), null), 401, 'missing_app_key');
    expectError(await authenticateWith(seedAuthBody(phone.formatted, '123456'), 'og_not-a-key'), 401, 'invalid_app_key');
  });

  test('the key picks project and environment: a code sent under one key is not there for another', async () => {
    const other = await newTenant();
    const phone = usNumber();
    await sendCode(phone.formatted);
    const code = await latestCode(phone.e164);

    expectError(await authenticateWith(seedAuthBody(phone.formatted, code), other.appKey), 400, 'no_pending_otp');
    expectError(await authenticateWith(seedAuthBody(phone.formatted, code), tenant.keys.production), 400, 'no_pending_otp');
    const ok = await authenticateWith(seedAuthBody(phone.formatted, code));
    expect(ok.status).toBe(200);
    expect((await verifyToken(ok.body.data.token)).aud).toBe(tenant.projectId);
  });

  test("each environment has its own users and its own signing key", async () => {
    const phone = usNumber();
    const production = { projectId: tenant.projectId, environment: 'production' };
    await sendCode(phone.formatted, tenant.keys.production);
    const prod = await authenticateWith(seedAuthBody(phone.formatted, await latestCode(phone.e164)), tenant.keys.production);
    await sendCode(phone.formatted);
    const dev = await authenticateWith(seedAuthBody(phone.formatted, await latestCode(phone.e164)));

    expect(prod.body.data.publicUserId).not.toBe(dev.body.data.publicUserId);
    expect((await verifyToken(prod.body.data.token, production)).env).toBe('production');
    await expect(verifyToken(prod.body.data.token)).rejects.toThrow();
  });
});

describe('codes', () => {
  test('idType other than smsVerificationCode is 400, and spends nothing of the pending code', async () => {
    const phone = usNumber();
    await sendCode(phone.formatted);
    const code = await latestCode(phone.e164);
    for (const body of [
      { ...seedAuthBody(phone.formatted, code), idType: 'emailVerificationCode' },
      { idType: 'jwt', token: 'eyJ…' },
      { phoneNumber: phone.formatted, verificationCode: code },
    ]) {
      const res = await authenticateWith(body);
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.field).toBe('idType');
    }
    expect((await authenticateWith(seedAuthBody(phone.formatted, code))).status).toBe(200);
  });

  test('a wrong code: 401 invalid_otp with attemptsRemaining; after five even the right code is 429', async () => {
    const phone = usNumber();
    await sendCode(phone.formatted);
    const code = await latestCode(phone.e164);
    const remaining: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const res = await authenticateWith(seedAuthBody(phone.formatted, wrongCodeFor(code)));
      expectError(res, 401, 'invalid_otp');
      expect(res.body.error.field).toBe('verificationCode');
      remaining.push(res.body.error.attemptsRemaining);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    expectError(await authenticateWith(seedAuthBody(phone.formatted, code)), 429, 'too_many_attempts');
  });

  test('a code works once', async () => {
    const phone = usNumber();
    await sendCode(phone.formatted);
    const code = await latestCode(phone.e164);
    expect((await authenticateWith(seedAuthBody(phone.formatted, code))).status).toBe(200);
    expectError(await authenticateWith(seedAuthBody(phone.formatted, code)), 400, 'no_pending_otp');
  });

  test('no code ever sent: 400 no_pending_otp', async () => {
    expectError(await authenticateWith(seedAuthBody(usNumber().formatted, '123456')), 400, 'no_pending_otp');
  });

  test('a new send replaces the pending code; a verificationId sent back must be the live one', async () => {
    const phone = usNumber();
    const first = await sendCode(phone.formatted);
    const oldCode = await latestCode(phone.e164);
    const second = await sendCode(phone.formatted);
    const newCode = await latestCode(phone.e164);
    expect(second.body.data.verificationId).not.toBe(first.body.data.verificationId);

    const stale = await authenticateWith({ ...seedAuthBody(phone.formatted, newCode), verificationId: first.body.data.verificationId });
    expectError(stale, 400, 'no_pending_otp');
    if (oldCode !== newCode) expectError(await authenticateWith(seedAuthBody(phone.formatted, oldCode)), 401, 'invalid_otp');
    const live = await authenticateWith({ ...seedAuthBody(phone.formatted, newCode), verificationId: second.body.data.verificationId });
    expect(live.status).toBe(200);
  });

  test('an expired code: 410 otp_expired', async () => {
    const rt = runtime();
    const later = makeAuthenticate({
      ...rt,
      tenants: rt.keyTenants,
      publicBaseUrl: undefined,
      engine: createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper, now: () => Date.now() + 310_000 }),
    });
    const phone = usNumber();
    await sendCode(phone.formatted);
    expectError(await authenticateWith(seedAuthBody(phone.formatted, await latestCode(phone.e164)), undefined, later), 410, 'otp_expired');
  });
});

describe('bad requests and failures, all in the envelope', () => {
  test.each([
    ['not JSON', '{"phoneNumber": "+1(201)555-0123"', 'invalid_request'],
    ['not an object', '["+12015550123"]', 'invalid_request'],
    ['empty', '', 'invalid_request'],
    ['no phoneNumber', '{}', 'invalid_mobile'],
    ['a number as phoneNumber', '{"phoneNumber": 12015550123}', 'invalid_mobile'],
    ['letters', '{"phoneNumber": "call me"}', 'invalid_mobile'],
  ])('send-verification-code with %s: 400 %s', async (_, raw, code) => {
    expectError(await postV1(send, '/v1/send-verification-code', raw), 400, code);
  });

  test.each([
    ['no verificationCode', { idType: 'smsVerificationCode', phoneNumber: '+1(201)555-0123' }],
    ['a 5-digit verificationCode', { idType: 'smsVerificationCode', phoneNumber: '+1(201)555-0123', verificationCode: '12345' }],
    ['a verificationCode of letters', { idType: 'smsVerificationCode', phoneNumber: '+1(201)555-0123', verificationCode: 'abcdef' }],
  ])('user/authenticate with %s: 400 invalid_request on verificationCode', async (_, body) => {
    const res = await authenticateWith(body);
    expectError(res, 400, 'invalid_request');
    expect(res.body.error.field).toBe('verificationCode');
  });

  test('a number Twilio refuses: 502 delivery_failed', async () => {
    expectError(await sendCode('+1(202)555-0101'), 502, 'delivery_failed');
  });

  test('an unexpected failure is a bare 500 internal_error, and the code survives it', async () => {
    const rt = runtime();
    const broken = makeAuthenticate({
      ...rt,
      tenants: rt.keyTenants,
      publicBaseUrl: undefined,
      signingKey: async () => {
        throw new Error('secret store unreachable');
      },
    });
    const phone = usNumber();
    await sendCode(phone.formatted);
    const code = await latestCode(phone.e164);
    const res = await authenticateWith(seedAuthBody(phone.formatted, code), undefined, broken);
    expectError(res, 500, 'internal_error');
    expect(JSON.stringify(res.body)).not.toContain('secret store');
    expect((await authenticateWith(seedAuthBody(phone.formatted, code))).status).toBe(200);
  });

  test('the traceId is the request id every log line of the request carries', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    const level = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'info';
    let res: Awaited<ReturnType<typeof sendCode>>;
    try {
      res = await sendCode(usNumber().formatted);
    } finally {
      process.env.LOG_LEVEL = level;
      spy.mockRestore();
    }
    const sent = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.message === 'code sent');
    expect(sent).toMatchObject({ requestId: res.requestId });
    expect(res.body.traceId).toBe(res.requestId);
  });
});

describe('the token lifetime is a project setting', () => {
  test("verificationTokenTtlSeconds changes the next token's lifetime; the core's tokenTtlSeconds does not", async () => {
    const project = await newTenant({ settings: { tokenTtlSeconds: 900 } });
    const lifetime = async () => {
      const phone = usNumber();
      await sendCode(phone.formatted, project.appKey);
      const res = await authenticateWith(seedAuthBody(phone.formatted, await latestCode(phone.e164)), project.appKey);
      const payload = await verifyToken(res.body.data.token, project);
      expect(Date.parse(res.body.data.expiresAtIso8601)).toBe(payload.exp! * 1000);
      return payload.exp! - payload.iat!;
    };
    expect(await lifetime()).toBe(7200);

    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    await doc.send(
      new UpdateCommand({
        TableName: process.env.TABLE_NAME!,
        Key: { pk: `PROJECT#${project.projectId}`, sk: 'PROJECT' },
        UpdateExpression: 'SET settings.verificationTokenTtlSeconds = :ttl',
        ExpressionAttributeValues: { ':ttl': 600 },
      }),
    );
    doc.destroy();
    expect(await lifetime()).toBe(600);
  });
});
