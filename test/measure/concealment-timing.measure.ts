import { jest } from '@jest/globals';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { createEngine } from '#core/otp/engine';
import { runtime } from '#core/runtime';
import { mobileOtpLogin, mobileOtpStart } from '#core/styles/mobile-email';
import { call, event, newTenant, uniqueIndianMobile, type Handler, type TestTenant } from '../support/harness';

/**
 * Not a test (the suite has no timed assertions; jest's testMatch skips *.measure.ts): how long a
 * concealed login takes for a registered and an unknown number, for REDTEAM.md. Run with
 *   npm test -- --testMatch '**\/test/measure/*.measure.ts'
 */

jest.setTimeout(600_000);

/** Handlers over a fresh engine (one Lambda container's worth of state), with the real clock unless told otherwise. */
const container = (now?: () => number, providerMs?: () => number) => {
  const rt = runtime();
  const engine = createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper, ...(now === undefined ? {} : { now }) });
  const local = twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl });
  // The local Twilio endpoint answers in about a millisecond; Twilio itself takes a few hundred (providerMs adds that).
  const sender =
    providerMs === undefined ? local : { ...local, send: async (m: Parameters<typeof local.send>[0]) => { await new Promise((r) => setTimeout(r, providerMs())); return local.send(m); } };
  return { signup: mobileOtpStart('signup', { ...rt, engine, sender }), login: mobileOtpLogin({ ...rt, engine, sender, publicBaseUrl: undefined }) };
};

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { n: s.length, p10: q(0.1).toFixed(1), median: q(0.5).toFixed(1), p90: q(0.9).toFixed(1), mean: (s.reduce((a, b) => a + b, 0) / s.length).toFixed(1) };
};

const post = (tenant: TestTenant, handler: Handler, body: unknown) => call(handler, event(tenant, { body, appKey: tenant.appKey }));

test('measure: concealed login, known vs unknown number', async () => {
  // The default cooldown (30 s): with one under 10 s, every send also ends its delivery hold with a write.
  const tenant = await newTenant({ settings: { concealUserExistence: true, sendsPerIpPerHour: 0, resendCooldownSeconds: 30 } });
  // The registered numbers signed up an hour ago, so their logins now are past the cooldown.
  const setup = container(() => Date.now() - 3_600_000);
  const known = Array.from({ length: 80 }, () => uniqueIndianMobile());
  for (const mobile of known) expect((await post(tenant, setup.signup, { mobile })).status).toBe(201);

  // A fresh container: the decoy has no moving average of send times yet (it waits 150 ms by default).
  const cold = container();
  const time = async (mobile: string) => {
    const t = performance.now();
    const r = await post(tenant, cold.login, { mobile });
    if (r.status !== 200) throw new Error(`login ${r.status} ${JSON.stringify(r.body)}`);
    return performance.now() - t;
  };
  const coldUnknown = await time(uniqueIndianMobile());
  const coldKnown = await time(known[0]!);
  const warmKnown: number[] = [];
  const warmUnknown: number[] = [];
  for (let i = 1; i < known.length; i += 1) {
    warmKnown.push(await time(known[i]!));
    warmUnknown.push(await time(uniqueIndianMobile()));
  }
  console.log(JSON.stringify({ coldUnknown: coldUnknown.toFixed(1), coldKnown: coldKnown.toFixed(1), known: stats(warmKnown), unknown: stats(warmUnknown) }, null, 1));

  // The same with a provider as slow as Twilio's API usually is (150-350 ms): what an attacker meets in AWS.
  const twilioLike = container(undefined, () => 150 + Math.random() * 200);
  const others = Array.from({ length: 40 }, () => uniqueIndianMobile());
  for (const mobile of others) expect((await post(tenant, setup.signup, { mobile })).status).toBe(201);
  const timeWith = async (mobile: string) => {
    const t = performance.now();
    const r = await post(tenant, twilioLike.login, { mobile });
    if (r.status !== 200) throw new Error(`login ${r.status} ${JSON.stringify(r.body)}`);
    return performance.now() - t;
  };
  const slowKnown: number[] = [];
  const slowUnknown: number[] = [];
  for (const mobile of others) {
    slowKnown.push(await timeWith(mobile));
    slowUnknown.push(await timeWith(uniqueIndianMobile()));
  }
  console.log(JSON.stringify({ providerLikeTwilio: { known: stats(slowKnown), unknown: stats(slowUnknown) } }, null, 1));
});
