import { resolveSettings } from '#core/tenancy/settings';
import { parseSettingsInput, SettingsError } from '#core/tenancy/settings-input';

const custom = {
  codeLength: 8,
  otpTtlSeconds: 600,
  maxAttempts: 3,
  tokenTtlSeconds: 7200,
  defaultCountryCode: '+1',
  allowedCountries: ['IN', 'US'],
};

const defaults = {
  codeLength: 6,
  otpTtlSeconds: 300,
  maxAttempts: 5,
  tokenTtlSeconds: 3600,
  defaultCountryCode: '+91',
  allowedCountries: [],
};

describe('resolveSettings', () => {
  test.each([undefined, null, {}, 'not an object'])('gives the defaults for stored %p', (stored) => {
    expect(resolveSettings(stored, '+91')).toMatchObject(defaults);
  });

  test('the deployment default country code is used when the project has none', () => {
    expect(resolveSettings(undefined, '+44').defaultCountryCode).toBe('+44');
  });

  test('valid stored values override the defaults', () => {
    expect(resolveSettings(custom, '+91')).toMatchObject(custom);
  });

  test.each<[keyof typeof custom, unknown]>([
    ['codeLength', 3],
    ['codeLength', 11],
    ['codeLength', 6.5],
    ['otpTtlSeconds', 5],
    ['otpTtlSeconds', 601],
    ['maxAttempts', 0],
    ['tokenTtlSeconds', 10],
    ['defaultCountryCode', '91'],
    ['allowedCountries', ['in']],
    ['maxAttempts', '5'],
  ])('an out-of-range %s of %p falls back to the default for that field only', (field, bad) => {
    const settings = resolveSettings({ ...custom, [field]: bad }, '+91');
    expect(settings).toMatchObject({ ...custom, [field]: defaults[field] });
  });
});

describe('message settings', () => {
  test('templates, sender name, subject and WebOTP domain are read when valid', () => {
    const stored = { emailFromName: ' Acme ', emailSubject: '{code} is your code', smsTemplate: '{code}', whatsappTemplate: 'Code: {code}', webOtpDomain: 'Acme.Example' };
    expect(resolveSettings(stored, '+91')).toMatchObject({ emailFromName: 'Acme', emailSubject: '{code} is your code', smsTemplate: '{code}', webOtpDomain: 'acme.example' });
  });

  test.each<[string, unknown]>([
    ['smsTemplate', 'no code here'],
    ['smsTemplate', '{code} {otp}'],
    ['whatsappTemplate', ''],
    ['emailSubject', 'two\nlines'],
    ['emailFromName', 'Evil" <attacker@example.com>'],
    ['emailFromName', 'Line\r\nBcc: x@example.com'],
    ['webOtpDomain', 'https://acme.example'],
    ['webOtpDomain', 'acme.example:443'],
  ])('a stored %s of %p is ignored (the default applies)', (field, bad) => {
    expect(resolveSettings({ [field]: bad }, '+91')[field as 'smsTemplate']).toBeUndefined();
  });
});

describe('parseSettingsInput (what the CLI writes)', () => {
  const problems = (input: unknown): readonly string[] => {
    try {
      parseSettingsInput(input);
    } catch (error) {
      if (error instanceof SettingsError) return error.problems;
      throw error;
    }
    throw new Error('expected a SettingsError');
  };

  test('valid settings come back normalised, unset ones absent', () => {
    expect(parseSettingsInput({ appName: ' Acme ', webOtpDomain: 'A.Example', allowedCountries: ['IN'] })).toEqual({ appName: 'Acme', webOtpDomain: 'a.example', allowedCountries: ['IN'] });
  });

  test('every wrong field is named with what it must be, one sentence each', () => {
    expect(problems({ codeLength: 6.5, tokenTtlSeconds: 10, maxAttempts: '5', defaultCountryCode: '91', codelength: 8 })).toEqual([
      'codeLength: must be a whole number (got 6.5)',
      'maxAttempts: must be a number (got "5")',
      'tokenTtlSeconds: must be at least 60 (got 10)',
      'defaultCountryCode: must be a calling code such as +91 (got "91")',
      'codelength: unknown setting; did you mean codeLength?',
    ]);
  });

  test('an unknown name with no near match lists the known ones', () => {
    expect(problems({ colour: 'blue' })[0]).toMatch(/^colour: unknown setting \(known: appName, codeLength, .*webOtpDomain\)$/);
  });

  test('templates name what is wrong with them', () => {
    expect(problems({ smsTemplate: 'Your code', whatsappTemplate: '{code} {when}', emailSubject: 'x'.repeat(151) })).toEqual([
      'emailSubject: must have at most 150 characters (got 151)',
      'smsTemplate: must contain {code}, where the code goes',
      'whatsappTemplate: has an unknown placeholder {when}; use {code}, {app} or {minutes}',
    ]);
  });

  test('settings that are not an object are refused as a whole', () => {
    expect(problems([1, 2])).toEqual(['settings must be a JSON object']);
    expect(problems('codeLength=8')).toEqual(['settings must be a JSON object']);
  });
});
