import { jest } from '@jest/globals';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { recordingMetrics } from '#core/observability/metrics';
import { createEngine } from '#core/otp/engine';
import { runtime } from '#core/runtime';
import { makeHandler as makeSignup } from '../../functions/mobile-otp-signup';
import { makeHandler as makeLogin } from '../../functions/mobile-otp-login';
import { makeHandler as makeVerify } from '../../functions/mobile-otp-verify';
import { handler as signup } from '../../functions/mobile-otp-signup';
import { handler as emailSignup } from '../../functions/email-otp-signup';
import { call, event, latestCode, newTenant, uniqueEmail, uniqueIndianMobile, type Handler, type TestTenant } from '../support/harness';

/**
 * What an operator sees of real requests (DynamoDB Local, the local Twilio endpoint): the metrics
 * the engine reports for every outcome, and the log lines every request leaves.
 */

jest.setTimeout(60_000);

const MINUTE = 60_000;

/** Handlers whose engine reports to a recorder and runs on a clock the test moves. */
const observed = () => {
  const rt = runtime();
  const metrics = recordingMetrics();
  const base = Date.now();
  let offset = 0;
  const engine = createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper, metrics, now: () => base + offset });
  const sender = twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl });
  return {
    metrics,
    /** "name projectId arg arg ..." of every call since the last look, in order. */
    seen: () => metrics.recorded.splice(0).map((m) => [m.name, ...m.args.filter((a) => typeof a === 'string')].join(' ')),
    signup: makeSignup({ ...rt, engine, sender }),
    login: makeLogin({ ...rt, engine, sender, publicBaseUrl: undefined }),
    verify: makeVerify({ ...rt, engine, publicBaseUrl: undefined }),
    advance: (ms: number) => void (offset += ms),
  };
};

const poster = (tenant: TestTenant) => (handler: Handler, body: unknown) => call(handler, event(tenant, { body, appKey: tenant.appKey }));

describe('metrics the engine reports', () => {
  test('a delivered code, a wrong one, the right one, then nothing pending', async () => {
    const tenant = await newTenant();
    const post = poster(tenant);
    const h = observed();
    const mobile = uniqueIndianMobile();
    expect((await post(h.signup, { mobile })).status).toBe(201);
    const latency = h.metrics.recorded.find((m) => m.name === 'providerLatency');
    expect(latency?.args[0]).toBe('sms');
    expect(latency?.args[1]).toEqual(expect.any(Number));
    expect(h.seen()).toEqual(['providerLatency sms', 'codeSend sms delivered']);
    const code = await latestCode(`+91${mobile}`);

    expect((await post(h.verify, { mobile, otp_code: code === '000000' ? '111111' : '000000' })).status).toBe(401);
    expect((await post(h.verify, { mobile, otp_code: code })).status).toBe(200);
    expect((await post(h.verify, { mobile, otp_code: code })).status).toBe(400);
    expect(h.seen()).toEqual(['verification sms wrong', 'verification sms success', 'verification no_pending']);
  });

  test('an expired code, and a code whose tries are spent (a lock-out, named by the limit that did it)', async () => {
    const tenant = await newTenant();
    const post = poster(tenant);
    const h = observed();
    const mobile = uniqueIndianMobile();
    await post(h.signup, { mobile });
    const code = await latestCode(`+91${mobile}`);
    h.advance(11 * MINUTE);
    expect((await post(h.verify, { mobile, otp_code: code })).body.error.code).toBe('otp_expired');
    expect(h.seen().at(-1)).toBe('verification sms expired');

    await post(h.login, { mobile });
    const fresh = await latestCode(`+91${mobile}`);
    const wrong = fresh === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i += 1) await post(h.verify, { mobile, otp_code: wrong });
    h.seen();
    expect((await post(h.verify, { mobile, otp_code: fresh })).body.error.code).toBe('too_many_attempts');
    expect(h.seen()).toEqual(['limitHit code_attempts', 'verification sms locked_out']);
  });

  test('a failed delivery and a refused resend', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { allowedCountries: ['IN', 'US'] } });
    const post = poster(tenant);
    const h = observed();
    expect((await post(h.signup, { country_code: '+1', mobile: '2025550101' })).status).toBe(502);
    expect(h.seen()).toEqual(['codeSend sms failed']);

    const mobile = uniqueIndianMobile();
    await post(h.signup, { mobile });
    h.seen();
    expect((await post(h.login, { mobile })).body.error.code).toBe('resend_too_soon');
    expect(h.seen()).toEqual(['limitHit resend_cooldown']);
  });

  test('the spend cap: counted as a limit hit and as the cap reached, per channel and cap', async () => {
    const tenant = await newTenant({ settings: { smsPerHour: 1 } });
    const post = poster(tenant);
    const h = observed();
    await post(h.signup, { mobile: uniqueIndianMobile() });
    h.seen();
    expect((await post(h.signup, { mobile: uniqueIndianMobile() })).body.error.code).toBe('budget_exceeded');
    expect(h.seen()).toEqual(['limitHit spend_cap', 'spendCapReached sms perHour']);
    expect(h.metrics.recorded).toEqual([]);
  });

  test('every metric names the project it is about', async () => {
    const tenant = await newTenant();
    const h = observed();
    await poster(tenant)(h.signup, { mobile: uniqueIndianMobile() });
    expect(h.metrics.recorded.length).toBeGreaterThan(0);
    expect(h.metrics.recorded.every((m) => m.projectId === tenant.projectId)).toBe(true);
  });
});

describe('request logs', () => {
  const capture = async (run: () => Promise<unknown>) => {
    const lines: string[] = [];
    const push = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
    const out = jest.spyOn(console, 'log').mockImplementation(push);
    const err = jest.spyOn(console, 'error').mockImplementation(push);
    const level = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'info';
    try {
      await run();
    } finally {
      process.env.LOG_LEVEL = level;
      out.mockRestore();
      err.mockRestore();
    }
    return lines;
  };
  const json = (lines: string[]) => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

  test('each request ends with one "request" line: status and outcome, with the request id, route, project and environment', async () => {
    const tenant = await newTenant();
    const ok = event(tenant, { body: { country_code: '+91', mobile: uniqueIndianMobile() }, appKey: tenant.appKey });
    const refused = event(tenant, { body: { country_code: '+91', mobile: '12' }, appKey: tenant.appKey });
    const unknownKey = event(tenant, { body: {}, appKey: 'og_wrong' });
    const lines = json(await capture(async () => {
      await call(signup, ok);
      await call(signup, refused);
      await call(signup, unknownKey);
    }));
    const requests = lines.filter((l) => l.message === 'request');
    expect(requests).toEqual([
      expect.objectContaining({ requestId: ok.requestContext.requestId, route: ok.routeKey, projectId: tenant.projectId, environment: tenant.environment, status: 201, outcome: 'ok', level: 'INFO' }),
      expect.objectContaining({ requestId: refused.requestContext.requestId, projectId: tenant.projectId, status: 400, outcome: 'invalid_mobile' }),
      // The key resolved nothing, so no project is named.
      expect.objectContaining({ requestId: unknownKey.requestContext.requestId, status: 401, outcome: 'invalid_app_key' }),
    ]);
    expect(requests[2]).not.toHaveProperty('projectId');
    expect(requests.every((r) => typeof r.durationMs === 'number' && typeof r.timestamp === 'string')).toBe(true);
    // Every line of the first request carries its id and tenant.
    const first = lines.filter((l) => l.requestId === ok.requestContext.requestId);
    expect(first.map((l) => l.message)).toEqual(['code sent', 'request']);
    expect(first.every((l) => l.projectId === tenant.projectId && l.environment === tenant.environment)).toBe(true);
  });

  test('concurrent requests of two projects in one process keep their own fields', async () => {
    const [a, b] = await Promise.all([newTenant(), newTenant()]);
    const events = Array.from({ length: 16 }, (_, i) => {
      const tenant = i % 2 === 0 ? a! : b!;
      return { tenant, ev: event(tenant, { body: { email: uniqueEmail() }, appKey: tenant.appKey }) };
    });
    const lines = json(await capture(() => Promise.all(events.map(({ ev }) => call(emailSignup, ev)))));
    const owner = new Map(events.map(({ tenant, ev }) => [ev.requestContext.requestId, tenant.projectId]));
    const mine = lines.filter((l) => owner.has(String(l.requestId)));
    expect(mine.filter((l) => l.message === 'request')).toHaveLength(16);
    expect(mine.filter((l) => l.message === 'code sent')).toHaveLength(16);
    for (const line of mine) expect(line.projectId).toBe(owner.get(String(line.requestId)));
  });
});
