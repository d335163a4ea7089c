import { jest } from '@jest/globals';
import { newTenant, uniqueIndianMobile } from '../support/harness';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { createEngine } from '#core/otp/engine';
import { runtime } from '#core/runtime';
import { mobileOtpLogin, mobileOtpStart } from '#core/styles/mobile-email';
import { poster } from './support';

/** Handlers over a fresh engine with the real clock (one Lambda container's worth of state). */
const container = () => {
  const rt = runtime();
  const engine = createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper });
  const sender = twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl });
  return { mobileSignup: mobileOtpStart('signup', { ...rt, engine, sender }), mobileLogin: mobileOtpLogin({ ...rt, engine, sender, publicBaseUrl: undefined }) };
};

/**
 * Not a test (no timed assertions in the suite): a measurement of how long a concealed login takes
 * for a known and an unknown number, printed for the red-team report. Run with
 *   npm test -- --testMatch '**\/redteam/timing.measure.ts'
 */

jest.setTimeout(600_000);

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { n: s.length, p10: q(0.1).toFixed(1), median: q(0.5).toFixed(1), p90: q(0.9).toFixed(1), mean: (s.reduce((a, b) => a + b, 0) / s.length).toFixed(1) };
};

test('measure: concealed login, known vs unknown number', async () => {
  const tenant = await newTenant({ limits: 'relaxed', settings: { concealUserExistence: true, sendsPerIpPerHour: 0, resendCooldownSeconds: 0 } });
  const post = poster(tenant);
  const setup = container();
  const known = Array.from({ length: 80 }, () => uniqueIndianMobile());
  for (const mobile of known) await post(setup.mobileSignup, { mobile });

  // A fresh "container": the decoy has no moving average yet (150 ms default).
  const cold = container();
  const time = async (mobile: string, h = cold) => {
    const t = performance.now();
    const r = await post(h.mobileLogin, { mobile });
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
});
