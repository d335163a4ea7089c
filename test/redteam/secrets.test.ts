import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { jest } from '@jest/globals';
import { runtime } from '#core/runtime';
import { latestCode, newTenant, uniqueEmail, uniqueIndianMobile } from '../support/harness';
import { clocked, poster, v1, wa, wrongCode } from './support';

/**
 * Red team: every flow of every style with LOG_LEVEL=debug, then a grep of everything written to
 * the console for codes, tokens, keys, secrets and unmasked addresses, and a scan of the table for
 * the same in clear. FAILING tests are findings.
 */

jest.setTimeout(120_000);

/** Every secret value the local stack holds (pepper, signing seed, Twilio auth tokens). */
const localSecretValues = (): string[] => {
  const dir = runtime().config.secretsDir;
  if (dir === undefined) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const text = readFileSync(p, 'utf8').trim();
        out.push(text);
        try {
          const json = JSON.parse(text) as Record<string, unknown>;
          for (const k of ['authToken', 'current', 'previous']) if (typeof json[k] === 'string') out.push(json[k] as string);
        } catch {
          /* a plain value */
        }
      }
    }
  };
  walk(dir);
  return out.filter((s) => s.length >= 8);
};

test('[holds] every style, debug logging: no code, token, key, secret or unmasked address in any log line, and none in the table in clear', async () => {
  const configUid = randomUUID();
  const testNumber = '+15559876543';
  const tenant = await newTenant({
    environments: ['development', 'production'],
    settings: { concealUserExistence: true, whatsappConfigs: { [configUid]: { from: '+14155238886', contentSid: `HX${'ab'.repeat(16)}` } }, testIdentifiers: { [testNumber]: '424242' } },
  });
  const h = clocked();
  const post = poster(tenant);
  const lines: string[] = [];
  const capture = (...args: unknown[]) => void lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  const spies = (['log', 'error', 'warn', 'info', 'debug'] as const).map((m) => jest.spyOn(console, m).mockImplementation(capture));
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => (capture(String(chunk)), true)) as never);
  const level = process.env.LOG_LEVEL;
  process.env.LOG_LEVEL = 'debug';
  const secrets: string[] = [tenant.appKey, tenant.keys.production!, ...localSecretValues()];
  const addresses: string[] = [];
  try {
    // Mobile: signup, wrong code, login-with-code, refresh, logout, logout all.
    const mobile = uniqueIndianMobile();
    addresses.push(`+91${mobile}`, mobile);
    await post(h.mobileSignup, { mobile });
    const code1 = await latestCode(`+91${mobile}`);
    await post(h.mobileVerify, { mobile, otp_code: wrongCode(code1) });
    const signedIn = await post(h.mobileLogin, { mobile, otp_code: code1 });
    expect(signedIn.status).toBe(200);
    const refreshed = await post(h.refresh, { refresh_token: signedIn.body.refresh_token });
    await post(h.refresh, { refresh_token: signedIn.body.refresh_token }); // reuse: logged as a warning
    await post(h.logout, {}, { headers: { authorization: `Bearer ${refreshed.body.access_token}` } });
    await post(h.logout, { all: true }, { headers: { authorization: `Bearer ${signedIn.body.access_token}` } });
    secrets.push(code1, signedIn.body.access_token, signedIn.body.refresh_token, refreshed.body.access_token, refreshed.body.refresh_token);

    // Email, with a decoy login for an unknown address.
    const email = uniqueEmail();
    const unknownEmail = uniqueEmail();
    addresses.push(email, unknownEmail);
    await post(h.emailSignup, { email });
    const code2 = await latestCode(email);
    const emailIn = await post(h.emailVerify, { email, otp_code: code2 });
    await post(h.emailLogin, { email: unknownEmail });
    secrets.push(code2, emailIn.body.access_token, emailIn.body.refresh_token);

    // Verification-id, with its verificationId.
    h.advance(60_000);
    const number = `+91${uniqueIndianMobile()}`;
    addresses.push(number);
    const sent = await v1(tenant).send(h, number);
    const code3 = await latestCode(number);
    await v1(tenant).authenticate(h, { phoneNumber: number, verificationCode: wrongCode(code3) });
    const auth = await v1(tenant).authenticate(h, { phoneNumber: number, verificationCode: code3, verificationId: sent.body.data.verificationId });
    expect(auth.status).toBe(200);
    secrets.push(code3, auth.body.data.token, auth.body.data.refreshToken);

    // WhatsApp with a Content template.
    const waNumber = uniqueIndianMobile();
    addresses.push(`+91${waNumber}`);
    const waSent = await wa(tenant).send(h, configUid, { name: 'Ana Example', mobileNumber: waNumber, countryCode: '91' });
    const code4 = await latestCode(`+91${waNumber}`);
    await wa(tenant).verify(h, waSent.body.id, { otp: wrongCode(code4), mobileNumber: waNumber, countryCode: '91' });
    expect((await wa(tenant).verify(h, waSent.body.id, { otp: code4, mobileNumber: waNumber, countryCode: '91' })).status).toBe(200);
    secrets.push(code4);

    // Test identifier, a provider refusal, a wrong key that looks real.
    await post(h.mobileSignup, { mobile: testNumber });
    await post(h.mobileVerify, { mobile: testNumber, otp_code: '424242' });
    addresses.push(testNumber, '+15005550001');
    await post(h.mobileSignup, { country_code: '+1', mobile: '5005550001' });
    const fakeKey = `og_${'Z'.repeat(43)}`;
    await poster({ ...tenant, appKey: fakeKey })(h.mobileSignup, { mobile });
    secrets.push(fakeKey, 'Ana Example');
  } finally {
    process.env.LOG_LEVEL = level;
    for (const s of spies) s.mockRestore();
    stdout.mockRestore();
  }

  const text = lines.join('\n');
  expect(text).toContain('"message":"code sent"');
  expect(text).toContain('"message":"refresh token reused; session revoked"');
  expect(localSecretValues().length).toBeGreaterThanOrEqual(2); // pepper and signing seed at least: the grep has something to find
  const leaks = [
    ...secrets.filter((s) => s.length >= 6 && text.includes(s)).map((s) => `secret ${s.slice(0, 12)}…`),
    ...addresses.filter((a) => text.includes(a)).map((a) => `address ${a}`),
  ];
  expect(leaks).toEqual([]);

  const client = new DynamoDBClient({});
  const { Items = [] } = await client.send(new ScanCommand({ TableName: runtime().config.tableName }));
  client.destroy();
  const mine = Items.map((i) => unmarshall(i)).filter((i) => String(i.pk).includes(tenant.projectId));
  const stored = JSON.stringify(mine);
  const inClear = secrets.filter((s) => s.length >= 6 && stored.includes(s)).map((s) => s.slice(0, 12));
  expect(inClear).toEqual([]);
});
