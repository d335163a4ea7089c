import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { jest } from '@jest/globals';
import { createEngine } from '#core/otp/engine';
import { phoneIdentity } from '#core/otp/identity';
import { runtime } from '#core/runtime';
import { makeHandler as makeSignup } from '../../functions/mobile-otp-signup';
import { makeHandler as makeLogin } from '../../functions/mobile-otp-login';
import { makeHandler as makeVerify } from '../../functions/mobile-otp-verify';
import { handler as emailSignup } from '../../functions/email-otp-signup';
import { handler as emailLogin } from '../../functions/email-otp-login';
import { handler as emailVerify } from '../../functions/email-otp-verify';
import { call, event, inbox, latestCode, newTenant, uniqueEmail, uniqueIndianMobile, uniqueUsMobile, type Handler, type TestTenant } from '../support/harness';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { defaultSesSender } from '#core/delivery/ses-email';
import { emailOtpStart } from '#core/styles/mobile-email';

/**
 * Every abuse limit against DynamoDB Local, through the real handlers, most of them under
 * concurrent requests: what holds here holds across Lambda containers, since every limit is a
 * conditional write on the table.
 */

jest.setTimeout(60_000);

const HOUR = 3_600_000;

/** Handlers whose engine runs on a clock the test moves. */
const clocked = () => {
  const rt = runtime();
  // A frozen clock: Retry-After and windows come out exact however slow the machine is.
  const base = Date.now();
  let offset = 0;
  const engine = createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper, metrics: rt.metrics, now: () => base + offset });
  const sender = twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl });
  return {
    signup: makeSignup({ ...rt, engine, sender }),
    login: makeLogin({ ...rt, engine, sender, publicBaseUrl: undefined }),
    verify: makeVerify({ ...rt, engine, publicBaseUrl: undefined }),
    advance: (ms: number) => {
      offset += ms;
    },
  };
};

const poster = (tenant: TestTenant) => (handler: Handler, body: unknown, sourceIp?: string) =>
  call(handler, event(tenant, { body, appKey: tenant.appKey, ...(sourceIp === undefined ? {} : { sourceIp }) }));

const smsTo = async (mobile: string) => (await inbox(`+91${mobile}`)).length;

describe('sends per identifier', () => {
  test('a second code within 30 s is 429 resend_too_soon with Retry-After; nothing is sent and the first code still works', async () => {
    const tenant = await newTenant({ limits: 'defaults' });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    expect((await post(h.signup, { mobile })).status).toBe(201);
    const first = await latestCode(`+91${mobile}`);

    h.advance(10_000);
    const again = await post(h.login, { mobile });
    expect(again.status).toBe(429);
    expect(again.body.error.code).toBe('resend_too_soon');
    expect(again.headers['retry-after']).toBe('20');
    expect(await smsTo(mobile)).toBe(1);
    expect((await post(h.verify, { mobile, otp_code: first })).status).toBe(200);
  });

  test('50 parallel logins for one number send exactly one message (the cooldown), and its code is the one that verifies', async () => {
    // Per-IP limit off: the 50 requests come from one address, and this test is about the number.
    const tenant = await newTenant({ limits: 'defaults', settings: { sendsPerIpPerHour: 0 } });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    await post(h.signup, { mobile });
    h.advance(31_000);
    const results = await Promise.all(Array.from({ length: 50 }, () => post(h.login, { mobile })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(new Set(results.filter((r) => r.status !== 200).map((r) => r.body.error.code))).toEqual(new Set(['resend_too_soon']));
    expect(await smsTo(mobile)).toBe(2);
    expect((await post(h.verify, { mobile, otp_code: await latestCode(`+91${mobile}`) })).status).toBe(200);
  });

  test('without a cooldown, 50 parallel logins still send at most 5 messages an hour', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { resendCooldownSeconds: 0, sendsPerIpPerHour: 0 } });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    await post(h.signup, { mobile });
    const results = await Promise.all(Array.from({ length: 50 }, () => post(h.login, { mobile })));
    const sent = results.filter((r) => r.status === 200).length;
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThanOrEqual(4); // the signup was the first of the 5
    expect(await smsTo(mobile)).toBe(1 + sent);
    expect(results.filter((r) => r.status === 429).every((r) => ['too_many_requests', 'resend_too_soon'].includes(r.body.error.code))).toBe(true);
  });

  test('5 codes an hour and 10 a day per number, windows sliding: Retry-After says when the next one may go', async () => {
    const tenant = await newTenant({ limits: 'defaults' });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    expect((await post(h.signup, { mobile })).status).toBe(201);
    for (let i = 0; i < 4; i += 1) {
      h.advance(31_000);
      expect((await post(h.login, { mobile })).status).toBe(200);
    }
    h.advance(31_000);
    const sixth = await post(h.login, { mobile });
    expect(sixth.status).toBe(429);
    expect(sixth.body.error.code).toBe('too_many_requests');
    // The first send was 5 x 31 s ago: the hour window frees a slot 3600 - 155 s from now.
    expect(Number(sixth.headers['retry-after'])).toBe(3600 - 155);

    h.advance(HOUR);
    for (let i = 0; i < 5; i += 1) {
      expect((await post(h.login, { mobile })).status).toBe(200);
      h.advance(31_000);
    }
    const eleventh = await post(h.login, { mobile });
    expect(eleventh.status).toBe(429);
    expect(eleventh.body.error.code).toBe('too_many_requests');
    expect(Number(eleventh.headers['retry-after'])).toBeGreaterThan(HOUR / 1000); // the day window, not the hour
    expect(await smsTo(mobile)).toBe(10);
  });
});

describe('sends per client IP', () => {
  test('20 codes an hour from one IP per project, whatever the numbers; another IP is not affected', async () => {
    const tenant = await newTenant({ limits: 'defaults' });
    const post = poster(tenant);
    const h = clocked();
    const results = [];
    for (let i = 0; i < 21; i += 1) results.push(await post(h.signup, { mobile: uniqueIndianMobile() }, '203.0.113.7'));
    expect(results.slice(0, 20).every((r) => r.status === 201)).toBe(true);
    expect(results[20]!.status).toBe(429);
    expect(results[20]!.body.error.code).toBe('too_many_requests');
    expect(Number(results[20]!.headers['retry-after'])).toBeLessThanOrEqual(3600);
    expect((await post(h.signup, { mobile: uniqueIndianMobile() }, '203.0.113.8')).status).toBe(201);
  });

  test('a project can turn the per-IP limit off for a style (its callers are servers behind one IP)', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { sendsPerIpPerHourByStyle: { 'mobile-email': 0 } } });
    const post = poster(tenant);
    const results = await Promise.all(Array.from({ length: 25 }, () => post(emailSignup, { email: uniqueEmail() }, '203.0.113.9')));
    expect(results.every((r) => r.status === 201)).toBe(true);
  });

  test('a style that does not know the end user IP applies no per-IP limit', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { sendsPerIpPerHour: 1 } });
    const rt = runtime();
    const t = { projectId: tenant.projectId, environment: tenant.environment, settings: (await rt.tenants(event(tenant, { appKey: tenant.appKey }))).settings };
    const sender = twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl });
    for (let i = 0; i < 3; i += 1) await expect(rt.engine.start(t, phoneIdentity(`+91${uniqueIndianMobile()}`), sender)).resolves.toBeDefined();
  });
});

describe('failed verifications per identifier', () => {
  test('200 parallel wrong guesses get 5 tries between them (the code attempt limit); the rest are told 429', async () => {
    const tenant = await newTenant({ limits: 'defaults' });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    await post(h.signup, { mobile });
    const code = await latestCode(`+91${mobile}`);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    const results = await Promise.all(Array.from({ length: 200 }, () => post(h.verify, { mobile, otp_code: wrong })));
    expect(results.filter((r) => r.status === 401)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(195);
    expect((await post(h.verify, { mobile, otp_code: code })).body.error.code).toBe('too_many_attempts');
  });

  test('10 wrong codes an hour across all codes of a number: a new code does not reset it, and then even the right code is 429 until the hour ends', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { resendCooldownSeconds: 0, sendsPerIdentifierPerHour: 100, sendsPerIdentifierPerDay: 1000 } });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    await post(h.signup, { mobile });
    for (let round = 0; round < 4; round += 1) {
      if (round > 0) expect((await post(h.login, { mobile })).status).toBe(200); // a fresh code, a fresh 5 code attempts
      const code = await latestCode(`+91${mobile}`);
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      for (let i = 0; i < (round < 3 ? 3 : 1); i += 1) expect((await post(h.verify, { mobile, otp_code: wrong })).status).toBe(401);
    }
    // 3 + 3 + 3 + 1 = 10 wrong codes within the hour.
    const right = await latestCode(`+91${mobile}`);
    const locked = await post(h.verify, { mobile, otp_code: right });
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('too_many_failures');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(3500);

    h.advance(HOUR);
    expect((await post(h.login, { mobile })).status).toBe(200);
    expect((await post(h.verify, { mobile, otp_code: await latestCode(`+91${mobile}`) })).status).toBe(200);
  });

  test('consecutive failures past the ceiling lock the number until an operator clears it, whatever the hour', async () => {
    const tenant = await newTenant({ settings: { maxConsecutiveFailures: 3 } });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    await post(h.signup, { mobile });
    for (let i = 0; i < 3; i += 1) {
      expect((await post(h.login, { mobile })).status).toBe(200);
      const wrong = String((Number(await latestCode(`+91${mobile}`)) + 1) % 1_000_000).padStart(6, '0');
      expect((await post(h.verify, { mobile, otp_code: wrong })).status).toBe(401);
      h.advance(2 * HOUR);
    }
    // Locked: a new code could never verify, so none is sent (no SMS paid for), and the last one is refused too.
    const refusedSend = await post(h.login, { mobile });
    expect(refusedSend.body.error.code).toBe('too_many_failures');
    expect(refusedSend.headers['retry-after']).toBeUndefined();
    const locked = await post(h.verify, { mobile, otp_code: await latestCode(`+91${mobile}`) });
    expect(locked.body.error.code).toBe('too_many_failures');

    expect(await runtime().identities.clearFailures(tenant, phoneIdentity(`+91${mobile}`))).toBe(true);
    expect((await post(h.login, { mobile })).status).toBe(200);
    expect((await post(h.verify, { mobile, otp_code: await latestCode(`+91${mobile}`) })).status).toBe(200);
  });

  test('the lock outlives the idle spell that sweeps ordinary items: three days on, after a TTL sweep, still locked (red-team finding 3)', async () => {
    const tenant = await newTenant({ settings: { maxConsecutiveFailures: 3 } });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    await post(h.signup, { mobile });
    for (let i = 0; i < 3; i += 1) {
      if (i > 0) expect((await post(h.login, { mobile })).status).toBe(200);
      const wrong = String((Number(await latestCode(`+91${mobile}`)) + 1) % 1_000_000).padStart(6, '0');
      expect((await post(h.verify, { mobile, otp_code: wrong })).status).toBe(401);
    }
    // Three idle days, then what DynamoDB's TTL sweep would do: delete every item of the project whose ttl has passed.
    h.advance(3 * 24 * HOUR);
    const sweepAt = Math.floor((Date.now() + 3 * 24 * HOUR) / 1000);
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const { Items = [] } = await doc.send(new ScanCommand({ TableName: runtime().config.tableName }));
    const swept = Items.filter((i) => String(i.pk).includes(tenant.projectId) && typeof i.ttl === 'number' && i.ttl <= sweepAt);
    for (const item of swept) await doc.send(new DeleteCommand({ TableName: runtime().config.tableName, Key: { pk: item.pk, sk: item.sk } }));
    expect(swept.length).toBeGreaterThan(0); // the sweep did take something (the IP and spend counters, at least)
    const afterSweep = await post(h.login, { mobile });
    expect(afterSweep.status).toBe(429);
    expect(afterSweep.body.error.code).toBe('too_many_failures');
  });

  test('a success clears the failure count', async () => {
    const tenant = await newTenant({ settings: { failedVerificationsPerIdentifierPerHour: 4 } });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    await post(h.signup, { mobile });
    const wrong = String((Number(await latestCode(`+91${mobile}`)) + 1) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 3; i += 1) expect((await post(h.verify, { mobile, otp_code: wrong })).status).toBe(401);
    expect((await post(h.verify, { mobile, otp_code: await latestCode(`+91${mobile}`) })).status).toBe(200);
    await post(h.login, { mobile });
    const nextWrong = String((Number(await latestCode(`+91${mobile}`)) + 1) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 3; i += 1) expect((await post(h.verify, { mobile, otp_code: nextWrong })).status).toBe(401);
  });
});

describe('project spend caps', () => {
  test('50 parallel SMS signups against a cap of 10 an hour send exactly 10; the rest are 429 budget_exceeded, a metric is emitted and the log names the cap', async () => {
    const tenant = await newTenant({ settings: { smsPerHour: 10 } });
    const post = poster(tenant);
    const h = clocked();
    const lines: string[] = [];
    const previous = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'info';
    const out = jest.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    const err = jest.spyOn(console, 'error').mockImplementation((line: unknown) => void lines.push(String(line)));
    let results;
    try {
      const mobiles = Array.from({ length: 50 }, () => uniqueIndianMobile());
      results = await Promise.all(mobiles.map((mobile) => post(h.signup, { mobile })));
      const sent = (await Promise.all(mobiles.map(smsTo))).reduce((a, b) => a + b, 0);
      expect(sent).toBe(10);
    } finally {
      out.mockRestore();
      err.mockRestore();
      process.env.LOG_LEVEL = previous;
    }
    expect(results.filter((r) => r.status === 201)).toHaveLength(10);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(40);
    expect(refused.every((r) => r.body.error.code === 'budget_exceeded' && Number(r.headers['retry-after']) <= 3600)).toBe(true);
    const events = lines.map((l) => JSON.parse(l) as Record<string, any>);
    expect(events.some((e) => e.message === 'spend cap reached' && e.cap === 'perHour' && e.channel === 'sms')).toBe(true);
    const metric = events.find((e) => e.SpendCapReached === 1);
    expect(metric).toMatchObject({ projectId: tenant.projectId, cap: 'perHour', _aws: { CloudWatchMetrics: [{ Namespace: 'otpgate', Metrics: [{ Name: 'SpendCapReached' }] }] } });
  });

  test.each([
    ['tightened', 500, 2],
    ['loosened', 1, 500],
  ])('a per-country cap %s mid-day does not let the day go past smsPerDay (red-team finding 4)', async (_name, before, after) => {
    const counters = runtime().counters;
    const projectId = `t-${randomBytes(6).toString('hex')}`;
    const at = Date.UTC(2031, 1, 3, 9, 0, 0);
    // Each send to its own country, so the per-country cap never binds by itself.
    const takeMany = async (perCountryPerHour: number, n: number, hour: number) => {
      let ok = 0;
      for (let i = 0; i < n; i += 1) if ((await counters.takeSpend(projectId, 'sms', `C${i}`, { perHour: 1_000_000, perDay: 80, perCountryPerHour }, at + hour * HOUR + i)).ok) ok += 1;
      return ok;
    };
    const first = await takeMany(before, 90, 0);
    expect(first).toBeGreaterThan(0);
    expect(first + (await takeMany(after, 100, 1))).toBeLessThanOrEqual(80);
  });

  test('a per-country cap stops one country and not another', async () => {
    const tenant = await newTenant({ settings: { sendsPerCountryPerHour: 2, allowedCountries: ['IN', 'US'] } });
    const post = poster(tenant);
    const h = clocked();
    expect((await post(h.signup, { mobile: uniqueIndianMobile() })).status).toBe(201);
    expect((await post(h.signup, { mobile: uniqueIndianMobile() })).status).toBe(201);
    expect((await post(h.signup, { mobile: uniqueIndianMobile() })).body.error.code).toBe('budget_exceeded');
    expect((await post(h.signup, { country_code: '+1', mobile: uniqueUsMobile() })).status).toBe(201);
  });

  test('email is not capped by the SMS budget', async () => {
    const tenant = await newTenant({ settings: { smsPerHour: 1 } });
    const post = poster(tenant);
    expect((await post(emailSignup, { email: uniqueEmail() })).status).toBe(201);
    expect((await post(emailSignup, { email: uniqueEmail() })).status).toBe(201);
  });

  test('30 parallel email signups against emailPerHour 8 send exactly 8; the rest are 429 budget_exceeded with a metric; SMS is not held by it', async () => {
    const tenant = await newTenant({ settings: { emailPerHour: 8 } });
    const rt = runtime();
    const seen: string[] = [];
    const metrics = { ...rt.metrics, spendCapReached: (_t: unknown, channel: string, cap: string) => void seen.push(`${channel} ${cap}`) };
    const engine = createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper, metrics });
    const signup = emailOtpStart('signup', { ...rt, engine, sender: defaultSesSender(rt.config) });
    const post = poster(tenant);
    const emails = Array.from({ length: 30 }, () => uniqueEmail());
    const results = await Promise.all(emails.map((email) => post(signup, { email })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(8);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(22);
    expect(refused.every((r) => r.body.error.code === 'budget_exceeded' && Number(r.headers['retry-after']) <= 3600)).toBe(true);
    expect((await Promise.all(emails.map(async (e) => (await inbox(e)).length))).reduce((a, b) => a + b, 0)).toBe(8);
    expect(seen).toContain('email perHour');
    expect((await post(clocked().signup, { mobile: uniqueIndianMobile() })).status).toBe(201);
  });

  test('emailPerDay holds across hours', async () => {
    const tenant = await newTenant({ settings: { emailPerDay: 3 } });
    const rt = runtime();
    // Noon UTC today, then an hour later: the same UTC day, another hour.
    const noon = Date.now() - (Date.now() % 86_400_000) + 12 * 3_600_000;
    let at = noon;
    const engine = createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper, now: () => at });
    const signup = emailOtpStart('signup', { ...rt, engine, sender: defaultSesSender(rt.config) });
    const post = poster(tenant);
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await post(signup, { email: uniqueEmail() })).status);
    at = noon + 3_600_000;
    statuses.push((await post(signup, { email: uniqueEmail() })).status);
    expect(statuses).toEqual([201, 201, 201, 429]);
  });
});

describe('countries and number types', () => {
  test('by default only the default country is allowed: 403 country_not_allowed, nothing sent', async () => {
    const tenant = await newTenant({ limits: 'defaults' });
    const us = uniqueUsMobile();
    const res = await poster(tenant)(clocked().signup, { country_code: '+1', mobile: us });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('country_not_allowed');
    expect(await inbox(`+1${us}`)).toHaveLength(0);
  });

  test('premium-rate numbers are refused before anything is sent', async () => {
    const tenant = await newTenant({ settings: { allowedCountries: ['US'] } });
    const res = await poster(tenant)(clocked().signup, { country_code: '+1', mobile: '9005551234' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_mobile');
    expect(await inbox('+19005551234')).toHaveLength(0);
  });

  test('UK 070 personal numbers and VoIP numbers (SMS-pumping targets) are refused before anything is sent', async () => {
    const tenant = await newTenant({ settings: { allowedCountries: ['GB', 'FR'], defaultCountryCode: '+44' } });
    const h = clocked();
    // libphonenumber-js: +44 70 is PERSONAL_NUMBER, +44 56 and +33 9 are VOIP.
    for (const mobile of ['+447012345678', '+445612345678', '+33912345678']) {
      const res = await poster(tenant)(h.signup, { mobile });
      expect({ mobile, status: res.status, code: res.body.error?.code }).toEqual({ mobile, status: 400, code: 'invalid_mobile' });
      expect(await inbox(mobile)).toHaveLength(0);
    }
  });
});

describe('test identifiers', () => {
  const testNumber = '+15559876543';
  const testEmail = 'qa@example.com';
  const settings = { testIdentifiers: { [testNumber]: '133575', [testEmail]: '246810' } };

  test('a listed number gets its fixed code: nothing is sent, no limit applies, the fixed code verifies', async () => {
    const tenant = await newTenant({ limits: 'defaults', environments: ['development', 'production'], settings });
    const post = poster(tenant);
    const h = clocked();
    expect((await post(h.signup, { mobile: '+1 (555) 987-6543' })).status).toBe(201);
    for (let i = 0; i < 12; i += 1) expect((await post(h.login, { mobile: testNumber }, '198.51.100.1')).status).toBe(200);
    expect(await inbox(testNumber)).toHaveLength(0);
    expect((await post(h.verify, { mobile: testNumber, otp_code: '133575' })).status).toBe(200);

    const email = await post(emailSignup, { email: 'QA@example.com' });
    expect(email.status).toBe(201);
    expect(await inbox(testEmail)).toHaveLength(0);
  });

  test('production refuses test identifiers unless the project enables them there', async () => {
    const tenant = await newTenant({ limits: 'defaults', environments: ['production', 'development'], settings });
    const prod = { ...tenant, environment: 'production', appKey: tenant.keys.production! };
    expect((await call(clocked().signup, event(prod, { body: { mobile: testNumber }, appKey: prod.appKey }))).body.error.code).toBe('invalid_mobile');
    const email = await call(emailSignup, event(prod, { body: { email: testEmail }, appKey: prod.appKey }));
    expect(email.status).toBe(201);
    expect(await inbox(testEmail)).toHaveLength(1); // a real email: the fixed code is not in force here
  });
});

describe('concealing whether a user exists', () => {
  test('login for an unknown address answers like a known one and sends nothing', async () => {
    const tenant = await newTenant({ settings: { concealUserExistence: true } });
    const post = poster(tenant);
    const unknown = uniqueEmail();
    const res = await post(emailLogin, { email: unknown });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/), email: unknown });
    expect((await post(emailLogin, { email: unknown })).body.user_id).toBe(res.body.user_id); // stable, so asking twice tells nothing
    expect(await inbox(unknown)).toHaveLength(0);
  });

  test('signup for an existing address answers 201 and sends the owner a code that signs them in', async () => {
    const tenant = await newTenant({ settings: { concealUserExistence: true } });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    const first = await post(h.signup, { mobile });
    const second = await post(h.signup, { mobile });
    expect(second.status).toBe(201);
    expect(second.body.user_id).toBe(first.body.user_id);
    expect(await smsTo(mobile)).toBe(2);
    expect((await post(h.verify, { mobile, otp_code: await latestCode(`+91${mobile}`) })).status).toBe(200);
  });

  test('without the setting, the seeds’ answers stand: 404 for an unknown login, 409 for an existing signup', async () => {
    const tenant = await newTenant();
    const post = poster(tenant);
    expect((await post(emailLogin, { email: uniqueEmail() })).status).toBe(404);
  });
});

describe('Gmail aliases', () => {
  /** One Gmail inbox written eight ways: "+tags", dots, googlemail.com. */
  const gmailForms = (user: string) =>
    Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? `${user}+${i}@gmail.com` : `${user.slice(0, 3)}.${user.slice(3)}+${i}@googlemail.com`));

  test('every form of one Gmail inbox is one user with one send budget, and each code goes to the form typed', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { sendsPerIpPerHour: 0, resendCooldownSeconds: 0 } });
    const post = poster(tenant);
    const user = `victim${randomBytes(4).toString('hex')}`;
    const forms = gmailForms(user);
    const signedUp = await post(emailSignup, { email: `${user}@gmail.com` });
    expect(signedUp.status).toBe(201);
    // Signing up again with an alias is signing up the same (not yet verified) user again: a new code, the same user_id.
    const again = await post(emailSignup, { email: forms[1]! });
    expect(again.status).toBe(201);
    expect(again.body.user_id).toBe(signedUp.body.user_id);
    const logins = [];
    for (const email of forms) logins.push(await post(emailLogin, { email }));
    // README: 5 codes per identifier per hour: the two signups' and three logins.
    expect(logins.map((r) => r.status)).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    expect(logins[3]!.body.error.code).toBe('too_many_requests');
    expect(new Set(logins.slice(0, 3).map((r) => r.body.user_id))).toEqual(new Set([signedUp.body.user_id]));
    const delivered = await Promise.all([`${user}@gmail.com`, ...forms].map(async (f) => (await inbox(f)).length));
    expect(delivered).toEqual([1, 1, 2, 1, 0, 0, 0, 0, 0]);
    // The pending code is the inbox's: typed another way, it verifies as the same user.
    const verified = await post(emailVerify, { email: `${user.toUpperCase()}@GoogleMail.com`, otp_code: await latestCode(forms[2]!) });
    expect(verified.status).toBe(200);
    expect(verified.body.user_id).toBe(signedUp.body.user_id);
  });

  test('a concealing project shows one pseudonym for every form of an unknown Gmail inbox, and signup keeps it', async () => {
    const tenant = await newTenant({ settings: { concealUserExistence: true, resendCooldownSeconds: 0 } });
    const post = poster(tenant);
    const user = `victim${randomBytes(4).toString('hex')}`;
    const [a, b] = gmailForms(user);
    const first = await post(emailLogin, { email: a! });
    const second = await post(emailLogin, { email: b! });
    expect(first.status).toBe(200);
    expect(second.body.user_id).toBe(first.body.user_id);
    const signedUp = await post(emailSignup, { email: `${user}@gmail.com` });
    expect(signedUp.body).toMatchObject({ user_id: first.body.user_id });
  });

  test('other domains keep their "+tags" and dots: those may be separate mailboxes', async () => {
    const tenant = await newTenant();
    const post = poster(tenant);
    const user = `ana${randomBytes(4).toString('hex')}`;
    const ids = [];
    for (const email of [`${user}@example.com`, `${user}+1@example.com`, `${user.slice(0, 2)}.${user.slice(2)}@example.com`]) {
      const res = await post(emailSignup, { email });
      expect(res.status).toBe(201);
      ids.push(res.body.user_id);
    }
    expect(new Set(ids).size).toBe(3);
  });
});
