import { jest } from '@jest/globals';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { createEngine } from '#core/otp/engine';
import { runtime } from '#core/runtime';
import { mobileOtpLogin, mobileOtpStart, mobileOtpVerify } from '#core/styles/mobile-email';
import { sendVerificationCode } from '#core/styles/verification-id';
import { resolveSettings } from '#core/tenancy/settings';
import { parseSettingsInput, SettingsError } from '#core/tenancy/settings-input';
import { call, event, inbox, latestCode, newTenant, uniqueIndianMobile, type Handler, type TestTenant } from '../support/harness';

/**
 * The red team's findings 1, 2, 11, 12 and 13 (REDTEAM.md), fixed on main in 509986e and 1f0fd6d,
 * brought over from branch h-review's test/redteam as ordinary tests: each failed before its fix.
 * Findings 3 and 4 are in limits.test.ts, 5 and 14 there too, 8 and 9 in token-lifecycle.test.ts.
 */

jest.setTimeout(90_000);

/** The mobile/email and verification-id handlers over one engine whose clock the test moves. */
const clocked = () => {
  const rt = runtime();
  let at = Date.now();
  const engine = createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper, now: () => at });
  const sender = twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl });
  return {
    signup: mobileOtpStart('signup', { ...rt, engine, sender }),
    login: mobileOtpLogin({ ...rt, engine, sender, publicBaseUrl: undefined }),
    verify: mobileOtpVerify({ ...rt, engine, publicBaseUrl: undefined }),
    v1Send: sendVerificationCode({ tenants: rt.keyTenants, engine, sender }),
    advance: (ms: number) => {
      at += ms;
    },
  };
};

const poster = (tenant: TestTenant) => (handler: Handler, body: unknown, sourceIp?: string) =>
  call(handler, event(tenant, { body, appKey: tenant.appKey, ...(sourceIp === undefined ? {} : { sourceIp }) }));

/** POST /v1/send-verification-code: no project in the path, the key in x-api-key. */
const v1Send = (h: ReturnType<typeof clocked>, tenant: TestTenant, phoneNumber: string) => {
  const base = event({ projectId: '', environment: '' }, { body: { phoneNumber } });
  const path = '/v1/send-verification-code';
  const ev: APIGatewayProxyEventV2 = {
    ...base,
    rawPath: path,
    headers: { 'content-type': 'application/json', 'x-api-key': tenant.appKey },
    requestContext: { ...base.requestContext, http: { ...base.requestContext.http, path } },
  };
  return call(h.v1Send, ev);
};

const wrongCode = (code: string) => String((Number(code) + 1) % 10 ** code.length).padStart(code.length, '0');
const smsTo = async (mobile: string) => (await inbox(`+91${mobile}`)).length;
/** What an attacker compares: status and error code (the user_id differs per address anyway). */
const observable = (r: { status: number; body: Record<string, any> }) => ({ status: r.status, code: r.body?.error?.code });

describe('finding 1: concealUserExistence tells a registered number from an unknown one by no answer', () => {
  const concealing = (settings: Record<string, unknown> = {}) =>
    newTenant({ limits: 'defaults', settings: { concealUserExistence: true, sendsPerIpPerHour: 0, ...settings } });

  test('two logins in a row: both numbers meet the resend cooldown', async () => {
    const tenant = await concealing();
    const post = poster(tenant);
    const h = clocked();
    const known = uniqueIndianMobile();
    const unknown = uniqueIndianMobile();
    expect((await post(h.signup, { mobile: known })).status).toBe(201);
    h.advance(60_000);
    const knownAnswers = [await post(h.login, { mobile: known }), await post(h.login, { mobile: known })];
    const unknownAnswers = [await post(h.login, { mobile: unknown }), await post(h.login, { mobile: unknown })];
    expect(knownAnswers.map(observable)).toEqual([{ status: 200 }, { status: 429, code: 'resend_too_soon' }]);
    expect(unknownAnswers.map(observable)).toEqual(knownAnswers.map(observable));
    expect(await smsTo(unknown)).toBe(0);
  });

  test('login then a wrong code: the same 401 invalid_otp for both', async () => {
    const tenant = await concealing();
    const post = poster(tenant);
    const h = clocked();
    const known = uniqueIndianMobile();
    const unknown = uniqueIndianMobile();
    await post(h.signup, { mobile: known });
    h.advance(60_000);
    expect((await post(h.login, { mobile: known })).status).toBe(200);
    expect((await post(h.login, { mobile: unknown })).status).toBe(200);
    const guess = wrongCode(await latestCode(`+91${known}`));
    const knownVerify = await post(h.verify, { mobile: known, otp_code: guess });
    expect(observable(knownVerify)).toEqual({ status: 401, code: 'invalid_otp' });
    expect(observable(await post(h.verify, { mobile: unknown, otp_code: guess }))).toEqual(observable(knownVerify));
  });

  test("a pseudonym's UUID variant is spread like a real user id's", async () => {
    const tenant = await concealing();
    const post = poster(tenant);
    const h = clocked();
    // Variants are 8, 9, a or b, a quarter each; 16 pseudonyms all of one variant would happen once in 4^15.
    const variants = new Set<string>();
    for (let i = 0; i < 16; i += 1) variants.add(((await post(h.login, { mobile: uniqueIndianMobile() })).body.user_id as string).charAt(19));
    expect(variants.size).toBeGreaterThan(1);
    for (const v of variants) expect('89ab').toContain(v);
  });

  test('with the SMS budget used up: the same 429 budget_exceeded for both', async () => {
    const tenant = await concealing({ smsPerHour: 1 });
    const post = poster(tenant);
    const h = clocked();
    const known = uniqueIndianMobile();
    expect((await post(h.signup, { mobile: known })).status).toBe(201); // the one SMS of the hour
    h.advance(60_000);
    const knownLogin = await post(h.login, { mobile: known });
    expect(observable(knownLogin)).toEqual({ status: 429, code: 'budget_exceeded' });
    expect(observable(await post(h.login, { mobile: uniqueIndianMobile() }))).toEqual(observable(knownLogin));
  });

  test('login then signup: one user_id from both, for a known and for an unknown number', async () => {
    const tenant = await concealing();
    const post = poster(tenant);
    const h = clocked();
    const known = uniqueIndianMobile();
    await post(h.signup, { mobile: known });
    h.advance(60_000);
    const sameIdFor = async (mobile: string) => {
      const login = await post(h.login, { mobile });
      h.advance(60_000);
      const signup = await post(h.signup, { mobile });
      expect([login.status, signup.status]).toEqual([200, 201]);
      return login.body.user_id === signup.body.user_id;
    };
    expect(await sameIdFor(known)).toBe(true);
    expect(await sameIdFor(uniqueIndianMobile())).toBe(true);
  });
});

describe('finding 2: requests that are refused or send nothing do not spend the budgets', () => {
  test('five signups refused as 409 user_exists leave the SMS budget of 3 to real users', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { smsPerHour: 3, sendsPerIpPerHour: 0 } });
    const post = poster(tenant);
    const h = clocked();
    const victim = uniqueIndianMobile();
    expect((await post(h.signup, { mobile: victim })).status).toBe(201);
    // A verified user: a repeated signup is user_exists (one never verified would get a new code).
    expect((await post(h.verify, { mobile: victim, otp_code: await latestCode(`+91${victim}`) })).status).toBe(200);
    h.advance(31_000);
    const refused = await Promise.all(Array.from({ length: 5 }, () => post(h.signup, { mobile: victim })));
    expect(refused.map((r) => r.body.error.code)).toEqual(Array(5).fill('user_exists'));
    expect(await smsTo(victim)).toBe(1);
    // One SMS of 3 has gone out this hour: two more users get their codes.
    expect((await post(h.signup, { mobile: uniqueIndianMobile() })).status).toBe(201);
    expect((await post(h.signup, { mobile: uniqueIndianMobile() })).status).toBe(201);
  });

  test('50 parallel sends to one number send 1 SMS and use 1 of the hourly budget of 20 (verification-id style)', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { smsPerHour: 20, allowedCountries: ['IN'] } });
    const h = clocked();
    const target = uniqueIndianMobile();
    const burst = await Promise.all(Array.from({ length: 50 }, () => v1Send(h, tenant, `+91${target}`)));
    expect(burst.filter((r) => r.status === 200)).toHaveLength(1);
    expect(await smsTo(target)).toBe(1);
    const others = [];
    for (let i = 0; i < 19; i += 1) others.push((await v1Send(h, tenant, `+91${uniqueIndianMobile()}`)).status);
    expect(others).toEqual(Array(19).fill(200));
    expect((await v1Send(h, tenant, `+91${uniqueIndianMobile()}`)).body.error.code).toBe('budget_exceeded');
  });

  test('a concealed signup of a registered number takes the per-IP count once per code', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { concealUserExistence: true, sendsPerIpPerHour: 5 } });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    const answers = [];
    for (let i = 0; i < 6; i += 1) {
      answers.push((await post(h.signup, { mobile }, '198.51.100.23')).body.error?.code ?? 201);
      h.advance(31_000);
    }
    // 5 codes from one IP against a limit of 5, then the limit.
    expect(answers).toEqual([201, 201, 201, 201, 201, 'too_many_requests']);
    expect(await smsTo(mobile)).toBe(5);
  });
});

test('finding 11: the per-IP limit counts an IPv6 client by its /64: 25 codes from one home network, 20 go out', async () => {
  const tenant = await newTenant({ limits: 'defaults' });
  const post = poster(tenant);
  const h = clocked();
  const statuses = [];
  for (let i = 0; i < 25; i += 1) statuses.push((await post(h.signup, { mobile: uniqueIndianMobile() }, `2001:db8:42:7::${(i + 1).toString(16)}`)).status);
  expect(statuses.filter((s) => s === 201)).toHaveLength(20);
  expect(statuses.slice(20)).toEqual([429, 429, 429, 429, 429]);
});

test('finding 13: codes are at least 6 digits (NIST SP 800-63B-4), for the project and for every WhatsApp configuration', () => {
  const uid = '5a706684-851f-3a27-b0d1-284155d8f862';
  expect(() => parseSettingsInput({ codeLength: 4 })).toThrow(SettingsError);
  expect(() => parseSettingsInput({ whatsappConfigs: { [uid]: { codeLength: 5 } } })).toThrow(SettingsError);
  const stored = resolveSettings({ codeLength: 4, whatsappConfigs: { [uid]: { codeLength: 4 } } }, '+91', 'production');
  expect(stored.codeLength).toBe(6);
  expect(stored.whatsappConfigs[uid]).toBeUndefined();
});

test('finding 12: a per-IP override for a style that knows no end-user IP (verification-id, whatsapp) is refused, not stored to do nothing', () => {
  for (const style of ['verification-id', 'whatsapp']) {
    expect(() => parseSettingsInput({ sendsPerIpPerHourByStyle: { [style]: 2 } })).toThrow(SettingsError);
  }
  expect(parseSettingsInput({ sendsPerIpPerHourByStyle: { 'mobile-email': 50, 'twilio-verify': 2 } })).toEqual({ sendsPerIpPerHourByStyle: { 'mobile-email': 50, 'twilio-verify': 2 } });
});
