import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { generateCode } from '#core/otp/codes';
import { resolveSettings } from '#core/tenancy/settings';
import { inbox, newTenant, uniqueIndianMobile } from '../support/harness';
import { clocked, inSequence, poster, v1, wa } from './support';

/**
 * Red team: smaller gaps between what the limits key on and what an attacker controls, and
 * settings that step outside NIST SP 800-63B-4's numbers. FAILING tests are findings.
 */

jest.setTimeout(90_000);

test('[FINDING, latent] the per-IP limit counts each IPv6 address apart: 25 codes from one /64 (one home connection) all go out', async () => {
  const tenant = await newTenant({ limits: 'defaults' });
  const post = poster(tenant);
  const h = clocked();
  const results = await inSequence(25, (i) => post(h.mobileSignup, { mobile: uniqueIndianMobile() }, { sourceIp: `2001:db8:42:7::${(i + 1).toString(16)}` }));
  // README: "20 codes per end-user IP per project per hour".
  expect(results.filter((r) => r.status === 201).length).toBeLessThanOrEqual(20);
});

test('[FINDING, low] one Gmail inbox gets 12 codes in 6 minutes: "+tag" and dotted forms are separate identifiers', async () => {
  const tenant = await newTenant({ limits: 'defaults', settings: { sendsPerIpPerHour: 0 } });
  const post = poster(tenant);
  const h = clocked();
  const user = `victim${Date.now().toString(36)}`;
  const forms = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? `${user}+${i}@gmail.com` : `${user.slice(0, 3)}.${user.slice(3)}+${i}@gmail.com`));
  const results = await inSequence(12, async (i) => {
    h.advance(30_000);
    return post(h.emailSignup, { email: forms[i]! });
  });
  expect(results.every((r) => r.status === 201)).toBe(true);
  const delivered = (await Promise.all(forms.map((f) => inbox(f)))).reduce((n, m) => n + m.length, 0);
  // README: "5 codes per identifier per hour, 10 per day" -- Gmail delivers all of these to one mailbox.
  expect(delivered).toBeLessThanOrEqual(5);
});

test('[FINDING, low] a project may set 4- and 5-digit codes (NIST SP 800-63B-4: about 20 bits, i.e. 6 digits), also per WhatsApp configuration', () => {
  const s = resolveSettings({ codeLength: 4, whatsappConfigs: { '5a706684-851f-3a27-b0d1-284155d8f862': { codeLength: 4 } } }, '+91', 'production');
  expect(generateCode(s.codeLength)).toMatch(/^\d{6,}$/);
  expect(s.whatsappConfigs['5a706684-851f-3a27-b0d1-284155d8f862']?.codeLength ?? 6).toBeGreaterThanOrEqual(6);
});

test('[FINDING] UK 070 "personal numbers" (premium-priced forwarding, a known SMS-pumping target) and VoIP numbers are texted: only some non-mobile types are refused', async () => {
  const tenant = await newTenant({ settings: { allowedCountries: ['GB', 'FR'], defaultCountryCode: '+44' } });
  const post = poster(tenant);
  const h = clocked();
  // libphonenumber-js: +44 70 = PERSONAL_NUMBER, +44 56 = VOIP, +33 9 = VOIP. The issue: "premium-rate and non-mobile numbers are refused".
  for (const mobile of ['+447012345678', '+445612345678', '+33912345678']) {
    const res = await post(h.mobileSignup, { mobile });
    expect({ mobile, status: res.status }).toEqual({ mobile, status: 400 });
    expect(await inbox(mobile)).toHaveLength(0);
  }
});

test('[FINDING, low] sendsPerIpPerHourByStyle for "verification-id" and "whatsapp" is accepted and documented, but does nothing: those styles never pass an IP', async () => {
  const uid = randomUUID();
  const tenant = await newTenant({ limits: 'defaults', settings: { allowedCountries: ['IN'], sendsPerIpPerHourByStyle: { 'verification-id': 2, whatsapp: 2 }, whatsappConfigs: { [uid]: { from: '+14155238886' } } } });
  const h = clocked();
  // The same caller (one source IP, as the harness sends) asks three times through each style.
  const viaV1 = await inSequence(3, () => v1(tenant).send(h, `+91${uniqueIndianMobile()}`));
  const viaWa = await inSequence(3, () => wa(tenant).send(h, uid, { mobileNumber: uniqueIndianMobile(), countryCode: '91' }));
  expect(viaV1.map((r) => r.status)).toEqual([200, 200, 429]);
  expect(viaWa.map((r) => r.status)).toEqual([201, 201, 429]);
});
