import { ScanCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { jest } from '@jest/globals';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { createEngine } from '#core/otp/engine';
import { runtime } from '#core/runtime';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { handler as signup, makeHandler as makeSignup } from '../../functions/mobile-otp-signup';
import { handler as login } from '../../functions/mobile-otp-login';
import { handler as verify, makeHandler as makeVerify } from '../../functions/mobile-otp-verify';
import { handler as jwks } from '../../functions/jwks';
import { handler as emailSignup } from '../../functions/email-otp-signup';
import { handler as emailVerify } from '../../functions/email-otp-verify';
import { handler as sendVerificationCode } from '../../functions/send-verification-code';
import { handler as userAuthenticate } from '../../functions/user-authenticate';
import { handler as whatsappSend } from '../../functions/whatsapp-send-otp';
import { handler as whatsappVerify } from '../../functions/whatsapp-verify-otp';
import { handler as tokenRefresh } from '../../functions/token-refresh';
import { handler as logout } from '../../functions/logout';
import { call, event, latestCode, newTenant, uniqueEmail, uniqueIndianMobile, type Handler, type TestTenant } from '../support/harness';

/** The rules an attacker or an unlucky network would test: atomic single use, attempt limits, tenant walls, secrecy. */

let tenant: TestTenant;
beforeAll(async () => {
  tenant = await newTenant({ environments: ['development', 'production'] });
});

const post = (handler: Handler, body: unknown, t: { projectId: string; environment: string; appKey: string } = tenant) =>
  call(handler, event(t, { body, appKey: t.appKey }));

const signedUp = async () => {
  const mobile = uniqueIndianMobile();
  const res = await post(signup, { country_code: '+91', mobile });
  expect(res.status).toBe(201);
  return { mobile, userId: res.body.user_id as string, code: await latestCode(`+91${mobile}`) };
};

describe('single use under concurrency (DynamoDB conditional writes)', () => {
  test('of 12 simultaneous verifies with the right code exactly one gets a token; the others are told the code is used, not "too many wrong codes"', async () => {
    const { mobile, code } = await signedUp();
    const results = await Promise.all(Array.from({ length: 12 }, () => post(verify, { mobile, otp_code: code })));
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.body.access_token).toEqual(expect.any(String));
    expect(results.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body.error.code}`)).toEqual(Array.from({ length: 11 }, () => '400 no_pending_otp'));
  });

  test('a burst of 30 simultaneous guesses is judged at most 5 times', async () => {
    const { mobile, code } = await signedUp();
    const guesses = Array.from({ length: 30 }, (_, i) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0'));
    const results = await Promise.all(guesses.map((g) => post(verify, { mobile, otp_code: g })));
    expect(results.filter((r) => r.body.error?.code === 'invalid_otp')).toHaveLength(5);
    expect(results.filter((r) => r.body.error?.code === 'too_many_attempts')).toHaveLength(25);
    expect((await post(verify, { mobile, otp_code: code })).status).toBe(429);
  });
});

describe('codes', () => {
  test('a code that starts with 0 verifies when sent as a JSON integer', async () => {
    const rt = runtime();
    const digits = [0, 4, 2, 7, 1, 9];
    let i = 0;
    const engine = createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper, randomInt: () => digits[i++ % digits.length]! });
    const sender = twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl });
    const mobile = uniqueIndianMobile();
    expect((await post(makeSignup({ ...rt, engine, sender }), { country_code: '+91', mobile })).status).toBe(201);
    expect(await latestCode(`+91${mobile}`)).toBe('042719');

    const res = await post(makeVerify({ ...rt, engine, publicBaseUrl: undefined }), { mobile, otp_code: 42719 });
    expect(res.status).toBe(200);
  });

  test('the project setting for code length is honoured (8 digits)', async () => {
    const long = await newTenant({ settings: { codeLength: 8 } });
    const mobile = uniqueIndianMobile();
    await post(signup, { country_code: '+91', mobile }, long);
    const code = await latestCode(`+91${mobile}`);
    expect(code).toMatch(/^\d{8}$/);
    expect((await post(verify, { mobile, otp_code: code }, long)).status).toBe(200);
  });

  test('neither the code nor the APP-KEY is stored in clear', async () => {
    const { mobile, code } = await signedUp();
    const client = new DynamoDBClient({});
    const { Items = [] } = await client.send(new ScanCommand({ TableName: process.env.TABLE_NAME! }));
    const all = Items.map((item) => unmarshall(item));
    const strings = (items: Record<string, unknown>[]) => items.flatMap((item) => Object.values(item).filter((v): v is string => typeof v === 'string'));
    // This user's records only: other tests' numbers contain 6-digit runs that could match by chance.
    const mine = all.filter((item) => String(item.pk).endsWith(`#+91${mobile}`));
    expect(mine.map((item) => item.sk).sort()).toEqual(['IDENTITY', 'OTP']);
    expect(strings(mine).some((s) => s.includes(code))).toBe(false);
    expect(strings(all).some((s) => s.includes(tenant.appKey))).toBe(false);
    client.destroy();
  });

  test('operators see sends, wrong codes and verifies in the logs, but no code, token, APP-KEY or number', async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
    const out = jest.spyOn(console, 'log').mockImplementation(capture);
    const err = jest.spyOn(console, 'error').mockImplementation(capture);
    const level = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'debug';
    try {
      const mobile = uniqueIndianMobile();
      await post(signup, { country_code: '+91', mobile });
      const code = await latestCode(`+91${mobile}`);
      await post(verify, { mobile, otp_code: '000000' === code ? '111111' : '000000' });
      const ok = await post(verify, { mobile, otp_code: code });
      await post(signup, { country_code: '+1', mobile: '2025550101' }); // delivery failure is logged
      const text = lines.join('\n');
      for (const event of ['code sent', 'wrong code', 'code verified', 'code delivery failed']) expect(text).toContain(`"message":"${event}"`);
      expect(text).toContain(`"projectId":"${tenant.projectId}"`);
      for (const secret of [code, ok.body.access_token as string, tenant.appKey, mobile]) expect(text).not.toContain(secret);
    } finally {
      process.env.LOG_LEVEL = level;
      out.mockRestore();
      err.mockRestore();
    }
  });
});

describe('logs and metrics of every style', () => {
  test('across every style and the token routes, no log or metric line carries a code, token, key, number or email; every line is JSON with the request id', async () => {
    const configUid = '3f0e8c1a-7b0d-4e55-9d3e-5a1f0c2b7e41';
    const t = await newTenant({ settings: { whatsappConfigs: { [configUid]: { from: '+14155238886' } } } });
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
    const out = jest.spyOn(console, 'log').mockImplementation(capture);
    const err = jest.spyOn(console, 'error').mockImplementation(capture);
    const level = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'debug';
    const secrets: string[] = [t.appKey];
    const requestIds: string[] = [];
    const send = async (handler: Handler, ev: ReturnType<typeof event>) => {
      requestIds.push(ev.requestContext.requestId);
      return call(handler, ev);
    };
    try {
      // Mobile/email style: email signup and verify, then refresh and logout with the tokens it returned.
      const email = uniqueEmail();
      await send(emailSignup, event(t, { body: { email }, appKey: t.appKey }));
      const emailCode = await latestCode(email);
      const signedIn = await send(emailVerify, event(t, { body: { email, otp_code: emailCode }, appKey: t.appKey }));
      expect(signedIn.status).toBe(200);
      const refreshed = await send(tokenRefresh, event(t, { body: { refresh_token: signedIn.body.refresh_token }, appKey: t.appKey }));
      expect(refreshed.status).toBe(200);
      await send(logout, event(t, { appKey: t.appKey, headers: { authorization: `Bearer ${refreshed.body.access_token as string}` } }));
      secrets.push(email, email.split('@')[0]!, emailCode, signedIn.body.access_token, signedIn.body.refresh_token, refreshed.body.access_token, refreshed.body.refresh_token);

      // Verification-id style: the key in x-api-key, the number in the body.
      const v1Mobile = uniqueIndianMobile();
      const v1 = (path: string, body: unknown) => ({ ...event({ projectId: '', environment: '' }, { body, headers: { 'x-api-key': t.appKey } }), routeKey: `POST ${path}`, pathParameters: undefined });
      expect((await send(sendVerificationCode, v1('/v1/send-verification-code', { phoneNumber: `+91${v1Mobile}` }))).status).toBe(200);
      const v1Code = await latestCode(`+91${v1Mobile}`);
      const authenticated = await send(userAuthenticate, v1('/v1/user/authenticate', { idType: 'smsVerificationCode', phoneNumber: `+91${v1Mobile}`, verificationCode: v1Code }));
      expect(authenticated.status).toBe(200);
      secrets.push(v1Mobile, v1Code, authenticated.body.data.token);

      // WhatsApp style: the key in X-API-KEY, the code by WhatsApp, a wrong and a right verify.
      const waMobile = uniqueIndianMobile();
      const wa = (action: string, otpId: string, body: unknown) => ({ ...event(t, { body, headers: { 'X-API-KEY': t.appKey } }), pathParameters: { otpId }, rawPath: `/otp/${otpId}/${action}` });
      const sent = await send(whatsappSend, wa('sendOTP', configUid, { name: 'Ana', mobileNumber: waMobile, countryCode: '+91' }));
      expect(sent.status).toBe(201);
      const waCode = await latestCode(`+91${waMobile}`);
      await send(whatsappVerify, wa('verifyOTP', sent.body.id, { otp: waCode === '000000' ? '111111' : '000000', mobileNumber: waMobile, countryCode: '+91' }));
      expect((await send(whatsappVerify, wa('verifyOTP', sent.body.id, { otp: waCode, mobileNumber: waMobile, countryCode: '+91' }))).status).toBe(200);
      secrets.push(waMobile, waCode);
    } finally {
      process.env.LOG_LEVEL = level;
      out.mockRestore();
      err.mockRestore();
    }
    const text = lines.join('\n');
    for (const secret of secrets) expect(text).not.toContain(secret);
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const logs = parsed.filter((l) => !('_aws' in l));
    const metrics = parsed.filter((l) => '_aws' in l);
    // Each request's summary line, with its outcome; every log line belongs to one of these requests.
    expect(logs.filter((l) => l.message === 'request').map((l) => l.requestId)).toEqual(requestIds);
    expect(logs.every((l) => requestIds.includes(String(l.requestId)))).toBe(true);
    expect(logs.filter((l) => l.message === 'request').map((l) => l.outcome)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'invalid_otp', 'ok']);
    // The metrics went out too: deliveries on all three channels, verifications right and wrong.
    expect(new Set(metrics.filter((m) => m.CodeSends === 1).map((m) => `${m.channel as string} ${m.outcome as string}`))).toEqual(new Set(['email delivered', 'sms delivered', 'whatsapp delivered']));
    expect(metrics.filter((m) => m.Verifications === 1).map((m) => m.outcome).sort()).toEqual(['success', 'success', 'success', 'wrong']);
  });
});

describe('tenant isolation', () => {
  test('an APP-KEY opens only its own project and environment', async () => {
    const other = await newTenant();
    const mobile = uniqueIndianMobile();
    const cases = [
      { projectId: other.projectId, environment: 'development', appKey: tenant.appKey }, // key of another project
      { projectId: tenant.projectId, environment: 'production', appKey: tenant.appKey }, // key of another environment
      { projectId: tenant.projectId, environment: 'development', appKey: 'og_not-a-real-key' },
      { projectId: 'no-such-project', environment: 'development', appKey: tenant.appKey },
    ];
    for (const t of cases) {
      const res = await post(signup, { country_code: '+91', mobile }, t);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('invalid_app_key');
    }
    const missing = await call(signup, event(tenant, { body: { country_code: '+91', mobile } }));
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('missing_app_key');
  });

  test('a path no project can have is refused before it reaches DynamoDB (401 / 404, never 500)', async () => {
    const bad = ['p'.repeat(3000), 'has#hash', 'UPPER', ''];
    for (const projectId of bad) {
      const res = await post(signup, { country_code: '+91', mobile: uniqueIndianMobile() }, { projectId, environment: 'development', appKey: tenant.appKey });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('invalid_app_key');
    }
    const longEnv = await post(verify, { mobile: uniqueIndianMobile(), otp_code: '123456' }, { projectId: tenant.projectId, environment: 'e'.repeat(1100), appKey: tenant.appKey });
    expect(longEnv.body.error.code).toBe('invalid_app_key');
    for (const path of [{ projectId: tenant.projectId, environment: 'e'.repeat(1100) }, { projectId: 'p'.repeat(2100), environment: 'development' }]) {
      const res = await call(jwks, event(path, { method: 'GET' }));
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('project_not_found');
    }
  });

  test("a token of one project or environment does not verify against another's JWKS", async () => {
    const { mobile, code } = await signedUp();
    const { body } = await post(verify, { mobile, otp_code: code });
    const jwksOf = async (projectId: string, environment: string) =>
      createLocalJWKSet((await call(jwks, event({ projectId, environment }, { method: 'GET' }))).body as never);
    const other = await newTenant();
    await expect(jwtVerify(body.access_token, await jwksOf(tenant.projectId, 'development'))).resolves.toBeDefined();
    await expect(jwtVerify(body.access_token, await jwksOf(tenant.projectId, 'production'))).rejects.toThrow();
    await expect(jwtVerify(body.access_token, await jwksOf(other.projectId, 'development'))).rejects.toThrow();
  });

  test('the APP-KEY header name is case-insensitive', async () => {
    const res = await call(signup, event(tenant, { body: { country_code: '+91', mobile: uniqueIndianMobile() }, headers: { 'App-Key': tenant.appKey } }));
    expect(res.status).toBe(201);
  });

  test('users and codes of one environment are invisible in another', async () => {
    const prod = { projectId: tenant.projectId, environment: 'production', appKey: tenant.keys.production! };
    const { mobile, code } = await signedUp(); // in development
    expect((await post(login, { mobile }, prod)).status).toBe(404);
    const res = await post(verify, { mobile, otp_code: code }, prod);
    expect(res.body.error.code).toBe('no_pending_otp');
    // The same number can register separately in production.
    expect((await post(signup, { country_code: '+91', mobile }, prod)).status).toBe(201);
  });

  test('discovery of an unknown project or environment is 404', async () => {
    const res = await call(jwks, event({ projectId: tenant.projectId, environment: 'staging' }, { method: 'GET' }));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('project_not_found');
  });
});

describe('delivery failures', () => {
  test('an SMS the provider refuses is 502 delivery_failed and the signup can be retried', async () => {
    const number = { country_code: '+1', mobile: '2025550101' }; // the local Twilio endpoint's "invalid number" (README: +1 202 555 01NN)
    const first = await post(signup, number);
    expect(first.status).toBe(502);
    expect(first.body.error.code).toBe('delivery_failed');
    // The half-made user was undone: signing up again is not "already registered".
    const again = await post(signup, number);
    expect(again.body.error.code).toBe('delivery_failed');
    expect((await post(login, number)).status).toBe(404);
  });
});

describe('bad input is a clear 4xx, never a 5xx', () => {
  const cases: [string, { rawBody?: string; body?: unknown }, number, string][] = [
    ['no body', {}, 400, 'invalid_request'],
    ['malformed JSON', { rawBody: '{"mobile":' }, 400, 'invalid_request'],
    ['a JSON array', { rawBody: '[1,2]' }, 400, 'invalid_request'],
    ['JSON null', { rawBody: 'null' }, 400, 'invalid_request'],
    ['missing mobile', { body: { country_code: '+91' } }, 400, 'invalid_mobile'],
    ['mobile as an object', { body: { mobile: { a: 1 } } }, 400, 'invalid_mobile'],
    ['letters for a number', { body: { mobile: 'call me maybe' } }, 400, 'invalid_mobile'],
    ['a too-short number', { body: { mobile: '12345' } }, 400, 'invalid_mobile'],
    ['a bad country code', { body: { country_code: 'India', mobile: '9876543211' } }, 400, 'invalid_mobile'],
    ['a 100 kB number', { body: { mobile: '9'.repeat(100_000) } }, 400, 'invalid_mobile'],
  ];
  test.each(cases)('signup with %s', async (_name, input, status, code) => {
    const res = await call(signup, event(tenant, { ...input, appKey: tenant.appKey }));
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.headers['content-type']).toMatch(/application\/json/);
  });

  const codes: [string, unknown][] = [['letters', 'abcdef'], ['too long', 1234567], ['a fraction', 12.5], ['negative', -123456], ['missing', undefined], ['an array', [1]]];
  test.each(codes)('verify with otp_code %s is 400 invalid_request on otp_code', async (_name, otp) => {
    const res = await post(verify, { mobile: uniqueIndianMobile(), otp_code: otp });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', field: 'otp_code' });
  });

  test('email signup with a bad address is 400 invalid_email', async () => {
    for (const email of ['not-an-email', '', 42, `${'a'.repeat(250)}@example.com`]) {
      const res = await post(emailSignup, { email });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_email', field: 'email' });
    }
    expect((await post(emailSignup, { email: uniqueEmail() })).status).toBe(201);
  });
});
