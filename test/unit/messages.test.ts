import { emailContent, emailFrom, smsText, whatsappText } from '#core/delivery/messages';
import { resolveSettings } from '#core/tenancy/settings';
import type { OutgoingCode } from '#core/otp/engine';

/** The text around a code, with and without a project's templates. */

const message = (settings: Record<string, unknown> = {}): OutgoingCode => ({
  tenant: { projectId: 'p', environment: 'dev' },
  identity: { kind: 'phone', address: '+919876543211' },
  code: '012345',
  settings: resolveSettings({ appName: 'Acme', ...settings }, '+91'),
});

test('without templates the texts are the built-in ones', () => {
  expect(smsText(message())).toBe('012345 is your Acme code. It expires in 5 minutes. Do not share it.');
  expect(whatsappText(message())).toBe('012345 is your Acme verification code. For your security, do not share this code.');
  expect(emailContent(message()).subject).toBe('Your Acme sign-in code');
});

test('templates get {code}, {app} and {minutes}; a value with braces is not filled again', () => {
  const m = message({ appName: 'A{code}', otpTtlSeconds: 90, smsTemplate: '{app}: {code}, {minutes} min', whatsappTemplate: 'Code {code}', emailSubject: '{code} for {app}' });
  expect(smsText(m)).toBe('A{code}: 012345, 2 min');
  expect(whatsappText(m)).toBe('Code 012345');
  expect(emailContent(m).subject).toBe('012345 for A{code}');
});

test('with a WebOTP domain the SMS ends with "@domain #code" on its own last line, after a blank one', () => {
  const text = smsText(message({ webOtpDomain: 'auth.acme.example' }));
  expect(text.split('\n').at(-1)).toBe('@auth.acme.example #012345');
  expect(text).toBe('012345 is your Acme code. It expires in 5 minutes. Do not share it.\n\n@auth.acme.example #012345');
  expect(whatsappText(message({ webOtpDomain: 'auth.acme.example' }))).not.toContain('@auth');
});

test('the From line keeps the deployment address and adds the display name, RFC 2047-encoded outside ASCII', () => {
  expect(emailFrom({}, 'no-reply@acme.example')).toBe('no-reply@acme.example');
  expect(emailFrom({ emailFromName: 'Acme Support' }, 'no-reply@acme.example')).toBe('"Acme Support" <no-reply@acme.example>');
  const encoded = emailFrom({ emailFromName: 'Ácme Ünïted Sérvices, Zürich-Straße Büro für Kunden' }, 'no-reply@acme.example');
  expect(encoded.endsWith(' <no-reply@acme.example>')).toBe(true);
  const words = encoded.replace(/ <.*$/, '').split(' ');
  for (const word of words) expect(word.length).toBeLessThanOrEqual(75);
  const decoded = words.map((w) => Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(w)![1]!, 'base64').toString('utf8')).join('');
  expect(decoded).toBe('Ácme Ünïted Sérvices, Zürich-Straße Büro für Kunden');
});
