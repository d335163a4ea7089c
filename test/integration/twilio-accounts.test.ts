import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '#core/errors';
import { phoneIdentity } from '#core/otp/identity';
import { fileSecrets, projectSecretName, type SecretSource } from '#core/secrets';
import { resolveSettings } from '#core/tenancy/settings';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { twilioWhatsappSenders } from '#core/delivery/twilio-whatsapp';
import { handler as sendOtp } from '../../functions/whatsapp-send-otp';
import { handler as mobileSignup } from '../../functions/mobile-otp-signup';
import { call, event, newTenant, uniqueIndianMobile } from '../support/harness';

/**
 * Per-project Twilio accounts: a project's own secret `projects/<id>/twilio` (here a file under the
 * local secrets dir, as the local stack keeps it) is used for its SMS and WhatsApp, the stack-wide
 * one otherwise; what a container read is trusted for 60 s. Checked by the account the local
 * Twilio endpoint saw each message arrive with (the real twilio SDK's Basic auth).
 */

const secretsDir = process.env.OTPGATE_SECRETS_DIR!;
const apiBaseUrl = process.env.TWILIO_API_BASE_URL!;
const stack = JSON.parse(readFileSync(join(secretsDir, 'twilio'), 'utf8')) as { accountSid: string; authToken: string; from: string };
const secrets = fileSecrets(secretsDir);

const newAccount = () => ({ accountSid: `AC${randomBytes(16).toString('hex')}`, authToken: randomBytes(16).toString('hex') });
const newProjectId = () => `t-${randomBytes(6).toString('hex')}`;

const writeProjectSecret = (projectId: string, value: object) => {
  const file = join(secretsDir, projectSecretName(projectId, 'twilio'));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(value), { mode: 0o600 });
};

interface Stored {
  accountSid: string;
  channel: string;
  to: string;
  from: string;
  body: string;
}
const sentTo = async (to: string): Promise<Stored[]> =>
  ((await (await fetch(`${apiBaseUrl}/_local/messages`)).json()) as Stored[]).filter((m) => m.to === to);

const message = (projectId: string, to: string) => ({
  tenant: { projectId, environment: 'development' },
  identity: phoneIdentity(to),
  code: '482913',
  settings: resolveSettings({ appName: 'Acme' }, '+91'),
});
const newNumber = () => `+91${uniqueIndianMobile()}`;

describe('the senders', () => {
  test("SMS goes through the project's own account when it has one, else the stack-wide account", async () => {
    const own = { ...newAccount(), from: '+15005550111' };
    const withOwn = newProjectId();
    writeProjectSecret(withOwn, own);
    const sms = twilioSmsSender(secrets, { apiBaseUrl });

    const a = newNumber();
    await sms.send(message(withOwn, a));
    expect(await sentTo(a)).toEqual([expect.objectContaining({ accountSid: own.accountSid, from: own.from, channel: 'sms' })]);

    const b = newNumber();
    await sms.send(message(newProjectId(), b));
    expect(await sentTo(b)).toEqual([expect.objectContaining({ accountSid: stack.accountSid, from: stack.from, channel: 'sms' })]);
  });

  test("WhatsApp goes through the project's account, from its whatsappFrom unless the configuration names a sender", async () => {
    const own = { ...newAccount(), whatsappFrom: '+15005550222' };
    const projectId = newProjectId();
    writeProjectSecret(projectId, own);
    const whatsapp = twilioWhatsappSenders(secrets, { apiBaseUrl });

    const a = newNumber();
    await whatsapp({}).send(message(projectId, a));
    expect(await sentTo(a)).toEqual([expect.objectContaining({ accountSid: own.accountSid, from: 'whatsapp:+15005550222', channel: 'whatsapp' })]);

    const b = newNumber();
    await whatsapp({ from: '+14155238886' }).send(message(projectId, b));
    expect(await sentTo(b)).toEqual([expect.objectContaining({ accountSid: own.accountSid, from: 'whatsapp:+14155238886' })]);

    // The project's secret is its account for everything: one without an SMS sender cannot send SMS.
    await expect(twilioSmsSender(secrets, { apiBaseUrl }).send(message(projectId, newNumber()))).rejects.toThrow(/SMS is not configured/);
  });

  test('without any sender for WhatsApp (no from, no whatsappFrom in the stack secret) it is a configuration error', async () => {
    await expect(twilioWhatsappSenders(secrets, { apiBaseUrl })({}).send(message(newProjectId(), newNumber()))).rejects.toThrow(ConfigError);
  });

  test('a new or changed project secret takes effect once the 60 s a container trusts what it read have passed', async () => {
    let now = 1_000_000;
    const projectId = newProjectId();
    const sms = twilioSmsSender(secrets, { apiBaseUrl, now: () => now });
    const sendAt = async (at: number) => {
      now = at;
      const to = newNumber();
      await sms.send(message(projectId, to));
      return (await sentTo(to))[0]?.accountSid;
    };

    expect(await sendAt(1_000_000)).toBe(stack.accountSid);
    const own = { ...newAccount(), from: '+15005550111' };
    writeProjectSecret(projectId, own);
    expect(await sendAt(1_059_999)).toBe(stack.accountSid);
    expect(await sendAt(1_060_000)).toBe(own.accountSid);

    // A rotated auth token: the old one (still cached) is refused by Twilio until the cache expires.
    writeProjectSecret(projectId, { ...own, authToken: randomBytes(16).toString('hex') });
    await expect(sendAt(1_060_001)).rejects.toMatchObject({ status: 401, code: 20003 });
    expect(await sendAt(1_120_000)).toBe(own.accountSid);
  });

  test('a secret that could not be read is not cached: the next message tries again', async () => {
    let failNext = true;
    const flaky: SecretSource = async (name) => {
      if (failNext) {
        failNext = false;
        throw new Error('Secrets Manager is having a moment');
      }
      return secrets(name);
    };
    const sms = twilioSmsSender(flaky, { apiBaseUrl, now: () => 0 });
    await expect(sms.send(message(newProjectId(), newNumber()))).rejects.toThrow('having a moment');
    const to = newNumber();
    await sms.send(message(newProjectId(), to));
    expect(await sentTo(to)).toHaveLength(1);
  });
});

describe('through the real handlers', () => {
  test("a project's own Twilio secret carries its sendOTP and its SMS; another project uses the stack's", async () => {
    const uid = randomUUID();
    const settings = { whatsappConfigs: { [uid]: {} } };
    const mine = await newTenant({ settings });
    const theirs = await newTenant({ settings: { whatsappConfigs: { [uid]: { from: '+14155238886' } } } });
    const own = { ...newAccount(), from: '+15005550111', whatsappFrom: '+15005550222' };
    writeProjectSecret(mine.projectId, own);

    const sendTo = async (tenant: { appKey: string; projectId: string; environment: string }, mobileNumber: string) =>
      call(sendOtp, {
        ...event(tenant, { body: { name: 'Ana', mobileNumber, countryCode: '+91' }, headers: { 'X-API-KEY': tenant.appKey } }),
        rawPath: `/otp/${uid}/sendOTP`,
        pathParameters: { otpId: uid },
      });

    const a = uniqueIndianMobile();
    expect((await sendTo(mine, a)).status).toBe(201);
    expect(await sentTo(`+91${a}`)).toEqual([expect.objectContaining({ accountSid: own.accountSid, from: 'whatsapp:+15005550222', channel: 'whatsapp' })]);

    const b = uniqueIndianMobile();
    expect((await call(mobileSignup, event(mine, { appKey: mine.appKey, body: { country_code: '+91', mobile: b } }))).status).toBe(201);
    expect(await sentTo(`+91${b}`)).toEqual([expect.objectContaining({ accountSid: own.accountSid, from: own.from, channel: 'sms' })]);

    const c = uniqueIndianMobile();
    expect((await sendTo(theirs, c)).status).toBe(201);
    expect(await sentTo(`+91${c}`)).toEqual([expect.objectContaining({ accountSid: stack.accountSid, from: 'whatsapp:+14155238886' })]);
  });
});

describe('the local Twilio endpoint', () => {
  const post = (form: Record<string, string>, account: { accountSid: string; authToken: string } = stack) =>
    fetch(`${apiBaseUrl}/2010-04-01/Accounts/${account.accountSid}/Messages.json`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${account.accountSid}:${account.authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(form).toString(),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { code?: number; body?: string } }));

  test('refuses WhatsApp messages Twilio would refuse', async () => {
    const to = `whatsapp:${newNumber()}`;
    expect((await post({ To: to, From: '+14155238886', Body: 'hi' })).body.code).toBe(21910);
    expect((await post({ To: to, From: 'whatsapp:+14155238886', ContentSid: 'HX12' })).body.code).toBe(21655);
    expect((await post({ To: to, From: 'whatsapp:+14155238886', ContentSid: `HX${'a'.repeat(32)}`, ContentVariables: '[1]' })).body.code).toBe(21656);
    expect((await post({ To: to, From: 'whatsapp:+14155238886' })).body.code).toBe(21602);
  });

  test('accepts accounts of project secrets written after it started, and no others', async () => {
    const account = newAccount();
    const to = newNumber();
    expect((await post({ To: to, From: '+15005550006', Body: 'hi 1234' }, account)).status).toBe(401);
    writeProjectSecret(newProjectId(), { ...account, from: '+15005550006' });
    expect((await post({ To: to, From: '+15005550006', Body: 'hi 1234' }, account)).status).toBe(201);
  });
});
