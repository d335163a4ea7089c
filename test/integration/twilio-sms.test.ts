import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '#core/errors';
import { resolveSettings } from '#core/tenancy/settings';
import { parseTwilioCredentials, twilioSmsSender } from '#core/delivery/twilio-sms';
import { inbox, uniqueIndianMobile } from '../support/harness';

/** otpgate's SMS sender, through its own Twilio client, against the local Twilio-compatible endpoint started by global-setup. */

const apiBaseUrl = process.env.TWILIO_API_BASE_URL!;
const credentials = JSON.parse(readFileSync(join(process.env.OTPGATE_SECRETS_DIR!, 'twilio'), 'utf8')) as { accountSid: string; authToken: string };
const message = (to: string) => ({ tenant: { projectId: 'p', environment: 'dev' }, identity: { kind: 'phone' as const, address: to }, code: '482913', settings: resolveSettings({ appName: 'Acme' }, '+91') });
const secret = (value: object) => async () => JSON.stringify(value);

test('sends through a Messaging Service when the secret names one', async () => {
  const to = `+91${uniqueIndianMobile()}`;
  const { send } = twilioSmsSender(secret({ ...credentials, messagingServiceSid: 'MG0123456789abcdef0123456789abcdef' }), { apiBaseUrl });
  await send(message(to));
  const [sms] = await inbox(to);
  expect(sms).toMatchObject({ channel: 'sms', to, code: '482913' });
  expect(sms!.body).toBe('482913 is your Acme code. It expires in 5 minutes. Do not share it.');
});

test("wrong credentials are rejected the way Twilio rejects them (a RestException, 401 / 20003)", async () => {
  const { send } = twilioSmsSender(secret({ ...credentials, authToken: 'wrong', from: '+15005550006' }), { apiBaseUrl });
  await expect(send(message(`+91${uniqueIndianMobile()}`))).rejects.toMatchObject({ status: 401, code: 20003 });
});

test('a malformed Twilio secret is a configuration error naming what is missing', () => {
  expect(() => parseTwilioCredentials('not json')).toThrow(ConfigError);
  expect(() => parseTwilioCredentials(JSON.stringify({ accountSid: 'AC1', authToken: 't' }))).toThrow(/from \/ messagingServiceSid/);
  expect(() => parseTwilioCredentials(JSON.stringify({ accountSid: 'XX1', authToken: 't', from: '+1' }))).toThrow(ConfigError);
});
