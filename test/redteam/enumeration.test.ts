import { jest } from '@jest/globals';
import { latestCode, newTenant, uniqueIndianMobile } from '../support/harness';
import { clocked, poster, wrongCode } from './support';

/**
 * Red team: with concealUserExistence on, can an attacker tell a registered address from an
 * unknown one? The README promises login for an unknown address "answers exactly like a login for
 * a known one". Each test makes the same requests for a known and an unknown number and expects
 * the same observable answer (status, error code, shape). FAILING tests are findings.
 */

jest.setTimeout(60_000);

const concealing = (settings: Record<string, unknown> = {}) =>
  newTenant({ limits: 'defaults', settings: { concealUserExistence: true, sendsPerIpPerHour: 0, ...settings } });

/** What an attacker compares: status and error code (the user_id differs per address anyway). */
const observable = (r: { status: number; body: Record<string, any> }) => ({ status: r.status, code: r.body?.error?.code });

describe('concealUserExistence', () => {
  test('[FINDING] two logins in a row: a known number meets the resend cooldown, an unknown one never does', async () => {
    const tenant = await concealing();
    const post = poster(tenant);
    const h = clocked();
    const known = uniqueIndianMobile();
    const unknown = uniqueIndianMobile();
    expect((await post(h.mobileSignup, { mobile: known })).status).toBe(201);
    h.advance(60_000);

    const knownAnswers = [await post(h.mobileLogin, { mobile: known }), await post(h.mobileLogin, { mobile: known })];
    const unknownAnswers = [await post(h.mobileLogin, { mobile: unknown }), await post(h.mobileLogin, { mobile: unknown })];
    // Known: 200 then 429 resend_too_soon. Unknown: 200 then 200 (the decoy never records a send).
    expect(unknownAnswers.map(observable)).toEqual(knownAnswers.map(observable));
  });

  test('[FINDING] login then one wrong code: known -> 401 invalid_otp, unknown -> 400 no_pending_otp', async () => {
    const tenant = await concealing();
    const post = poster(tenant);
    const h = clocked();
    const known = uniqueIndianMobile();
    const unknown = uniqueIndianMobile();
    await post(h.mobileSignup, { mobile: known });
    h.advance(60_000);
    expect((await post(h.mobileLogin, { mobile: known })).status).toBe(200);
    expect((await post(h.mobileLogin, { mobile: unknown })).status).toBe(200);
    const guess = wrongCode(await latestCode(`+91${known}`));

    const knownVerify = await post(h.mobileVerify, { mobile: known, otp_code: guess });
    const unknownVerify = await post(h.mobileVerify, { mobile: unknown, otp_code: guess });
    expect(observable(unknownVerify)).toEqual(observable(knownVerify));
  });

  test('[FINDING] the decoy user_id is always RFC 4122 variant "a"; real user ids are 8, 9, a or b', async () => {
    const tenant = await concealing();
    const post = poster(tenant);
    const h = clocked();
    const knownNumbers = Array.from({ length: 12 }, () => uniqueIndianMobile());
    for (const mobile of knownNumbers) expect((await post(h.mobileSignup, { mobile })).status).toBe(201);
    h.advance(60_000);
    const variant = (userId: string) => userId.charAt(19);
    const knownVariants = new Set<string>();
    const decoyVariants = new Set<string>();
    for (const mobile of knownNumbers) knownVariants.add(variant((await post(h.mobileLogin, { mobile })).body.user_id));
    for (let i = 0; i < 12; i += 1) decoyVariants.add(variant((await post(h.mobileLogin, { mobile: uniqueIndianMobile() })).body.user_id));
    // One login answer tells 3 in 4 registered numbers apart: any user_id whose variant is not "a" is real.
    for (const v of knownVariants) expect(decoyVariants).toContain(v);
  });

  test('[FINDING] with the SMS budget used up: known -> 429 budget_exceeded, unknown -> 200', async () => {
    const tenant = await concealing({ smsPerHour: 1 });
    const post = poster(tenant);
    const h = clocked();
    const known = uniqueIndianMobile();
    expect((await post(h.mobileSignup, { mobile: known })).status).toBe(201); // the one SMS of the hour
    h.advance(60_000);
    const knownLogin = await post(h.mobileLogin, { mobile: known });
    const unknownLogin = await post(h.mobileLogin, { mobile: uniqueIndianMobile() });
    expect(observable(unknownLogin)).toEqual(observable(knownLogin));
  });

  test('[FINDING] login then signup: a known address gets the same user_id from both, an unknown one two different ids (decoy, then the new user)', async () => {
    const tenant = await concealing();
    const post = poster(tenant);
    const h = clocked();
    const known = uniqueIndianMobile();
    const unknown = uniqueIndianMobile();
    await post(h.mobileSignup, { mobile: known });
    h.advance(60_000);
    const sameIdFor = async (mobile: string) => {
      const login = await post(h.mobileLogin, { mobile });
      h.advance(60_000);
      const signup = await post(h.mobileSignup, { mobile });
      expect([login.status, signup.status]).toEqual([200, 201]);
      return login.body.user_id === signup.body.user_id;
    };
    expect(await sameIdFor(unknown)).toBe(await sameIdFor(known));
  });

  test('[holds] one login each: same status and body shape for a known and an unknown number', async () => {
    const tenant = await concealing();
    const post = poster(tenant);
    const h = clocked();
    const known = uniqueIndianMobile();
    await post(h.mobileSignup, { mobile: known });
    h.advance(60_000);
    const a = await post(h.mobileLogin, { mobile: known });
    const b = await post(h.mobileLogin, { mobile: uniqueIndianMobile() });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(Object.keys(b.body).sort()).toEqual(Object.keys(a.body).sort());
    expect(Object.keys(b.headers).sort()).toEqual(Object.keys(a.headers).sort());
  });
});
