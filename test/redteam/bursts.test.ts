import { jest } from '@jest/globals';
import { inbox, latestCode, newTenant, uniqueIndianMobile } from '../support/harness';
import { clocked, poster, v1 } from './support';

/**
 * Red team: bursts of one request for one number, as a script or a double-tapping client makes
 * them. Promises: no 5xx, one winner, one message, one user, one token per code. FAILING tests
 * are findings.
 */

jest.setTimeout(180_000);

const tally = (rs: { status: number; body: Record<string, any> }[]) => {
  const t: Record<string, number> = {};
  for (const r of rs) {
    const k = `${r.status}${r.body?.error?.code ? ` ${r.body.error.code}` : ''}`;
    t[k] = (t[k] ?? 0) + 1;
  }
  return t;
};

test('[holds] 40 simultaneous signups of one new number: one 201, one SMS, the rest 409/429, no 5xx', async () => {
  const tenant = await newTenant({ limits: 'defaults', settings: { sendsPerIpPerHour: 0 } });
  const post = poster(tenant);
  const h = clocked();
  const mobile = uniqueIndianMobile();
  const results = await Promise.all(Array.from({ length: 40 }, () => post(h.mobileSignup, { mobile })));
  const t = tally(results);
  expect(Object.keys(t).filter((k) => Number(k.slice(0, 3)) >= 500)).toEqual([]);
  expect(t['201']).toBe(1);
  expect(await inbox(`+91${mobile}`)).toHaveLength(1);
});

test('[holds] 40 simultaneous /v1/user/authenticate with the right code for a new number: one token, one user, no 5xx', async () => {
  const tenant = await newTenant();
  const h = clocked();
  const number = `+91${uniqueIndianMobile()}`;
  await v1(tenant).send(h, number);
  const code = await latestCode(number);
  const results = await Promise.all(Array.from({ length: 40 }, () => v1(tenant).authenticate(h, { phoneNumber: number, verificationCode: code })));
  const t = tally(results);
  expect(Object.keys(t).filter((k) => Number(k.slice(0, 3)) >= 500)).toEqual([]);
  expect(results.filter((r) => r.status === 200)).toHaveLength(1);
});

test('[holds] a signup and a first /v1 authentication of one number racing: one user in the end, whoever wins', async () => {
  const tenant = await newTenant();
  const h = clocked();
  const post = poster(tenant);
  const mobile = uniqueIndianMobile();
  const number = `+91${mobile}`;
  await v1(tenant).send(h, number);
  const code = await latestCode(number);
  const [auth, signup] = await Promise.all([v1(tenant).authenticate(h, { phoneNumber: number, verificationCode: code }), post(h.mobileSignup, { mobile })]);
  expect([auth.status, signup.status].every((s) => s < 500)).toBe(true);
  // Now sign in through the mobile style: the user must be the one /v1 named (if it won) or the signup created.
  h.advance(60_000);
  const login = await post(h.mobileLogin, { mobile });
  expect(login.status).toBe(200);
  if (auth.status === 200) expect(login.body.user_id).toBe(auth.body.data.publicUserId);
  if (signup.status === 201) expect(login.body.user_id).toBe(signup.body.user_id);
});

test('[holds] 30 refreshes and 30 logouts of one session at once: no 5xx, and afterwards the session is dead', async () => {
  const tenant = await newTenant();
  const h = clocked();
  const post = poster(tenant);
  const mobile = uniqueIndianMobile();
  await post(h.mobileSignup, { mobile });
  const s = (await post(h.mobileVerify, { mobile, otp_code: await latestCode(`+91${mobile}`) })).body;
  const results = await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      i % 2 === 0 ? post(h.refresh, { refresh_token: s.refresh_token }) : post(h.logout, { all: i % 4 === 1 }, { headers: { authorization: `Bearer ${s.access_token}` } }),
    ),
  );
  expect(results.filter((r) => r.status >= 500)).toEqual([]);
  const winners = results.filter((r) => r.status === 200 && r.body.refresh_token);
  for (const w of winners) expect((await post(h.refresh, { refresh_token: w.body.refresh_token })).status).toBe(401);
});
