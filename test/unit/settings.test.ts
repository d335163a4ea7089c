import * as v from 'valibot';
import { resolveSettings, settingsSchema } from '#core/tenancy/settings';
import { parseSettingsInput, SettingsError } from '#core/tenancy/settings-input';

const custom = {
  codeLength: 8,
  otpTtlSeconds: 600,
  maxAttempts: 3,
  tokenTtlSeconds: 7200,
  verificationTokenTtlSeconds: 600,
  refreshTokenTtlSeconds: 7 * 86_400,
  defaultCountryCode: '+1',
  allowedCountries: ['IN', 'US'],
};

const defaults = {
  codeLength: 6,
  otpTtlSeconds: 300,
  maxAttempts: 5,
  tokenTtlSeconds: 3600,
  verificationTokenTtlSeconds: 7200,
  refreshTokenTtlSeconds: 30 * 86_400,
  defaultCountryCode: '+91',
  allowedCountries: ['IN'],
};

describe('resolveSettings', () => {
  test.each([undefined, null, {}, 'not an object'])('gives the defaults for stored %p', (stored) => {
    expect(resolveSettings(stored, '+91')).toMatchObject(defaults);
  });

  test('the deployment default country code is used when the project has none', () => {
    expect(resolveSettings(undefined, '+44').defaultCountryCode).toBe('+44');
  });

  test("only the default calling code's main country is allowed unless the project lists more", () => {
    expect(resolveSettings(undefined, '+1').allowedCountries).toEqual(['US']);
    expect(resolveSettings({ defaultCountryCode: '+44' }, '+91').allowedCountries).toEqual(['GB']);
    expect(resolveSettings({ allowedCountries: ['*'] }, '+91').allowedCountries).toEqual(['*']);
    expect(resolveSettings({ allowedCountries: [] }, '+91').allowedCountries).toEqual(['IN']);
  });

  test('the limits have the documented defaults', () => {
    expect(resolveSettings(undefined, '+91')).toMatchObject({
      resendCooldownSeconds: 30,
      sendsPerIdentifierPerHour: 5,
      sendsPerIdentifierPerDay: 10,
      sendsPerIpPerHour: 20,
      failedVerificationsPerIdentifierPerHour: 10,
      maxConsecutiveFailures: 100,
      concealUserExistence: false,
      emailPerHour: 1000,
      emailPerDay: 10_000,
    });
  });

  test('NIST ceilings cannot be configured away: codes live at most 10 minutes, at most 100 consecutive failures', () => {
    expect(resolveSettings({ otpTtlSeconds: 3600, maxConsecutiveFailures: 1000 }, '+91')).toMatchObject({ otpTtlSeconds: 300, maxConsecutiveFailures: 100 });
  });

  test('test identifiers are live only in the environments that allow them (development by default)', () => {
    const stored = { testIdentifiers: { '+15559876543': '133575', 'qa@example.com': '000000' } };
    expect(resolveSettings(stored, '+91', 'development').testIdentifiers).toEqual(stored.testIdentifiers);
    expect(resolveSettings(stored, '+91', 'production').testIdentifiers).toEqual({});
    expect(resolveSettings({ ...stored, testIdentifierEnvironments: ['production'] }, '+91', 'production').testIdentifiers).toEqual(stored.testIdentifiers);
    // A fixed code must have the project's code length, or nobody could type it.
    expect(resolveSettings({ ...stored, codeLength: 8 }, '+91', 'development').testIdentifiers).toEqual({});
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
    ['verificationTokenTtlSeconds', 59],
    ['verificationTokenTtlSeconds', 86_401],
    ['refreshTokenTtlSeconds', 60],
    ['refreshTokenTtlSeconds', 366 * 86_400],
    ['defaultCountryCode', '91'],
    ['allowedCountries', ['in']],
    ['maxAttempts', '5'],
  ])('an out-of-range %s of %p falls back to the default for that field only', (field, bad) => {
    const settings = resolveSettings({ ...custom, [field]: bad }, '+91');
    // allowedCountries falls back to the main country of the project's own default code (+1 here).
    expect(settings).toMatchObject({ ...custom, [field]: field === 'allowedCountries' ? ['US'] : defaults[field] });
  });
});

describe('testIdentifiers', () => {
  test('a listed Gmail address is keyed like its users: every dotted and +tag form of it is the test identifier', () => {
    const s = resolveSettings({ testIdentifiers: { 'qa.team+x@googlemail.com': '246810', 'qa.team+x@example.com': '135790' } }, '+91', 'development');
    expect(s.testIdentifiers).toEqual({ 'qateam@gmail.com': '246810', 'qa.team+x@example.com': '135790' });
  });
});

describe('sessionMaxLifetimeSeconds', () => {
  test('90 days by default; unset, it follows a longer refreshTokenTtlSeconds; set, it is kept even below it', () => {
    expect(resolveSettings(undefined, '+91').sessionMaxLifetimeSeconds).toBe(90 * 86_400);
    expect(resolveSettings({ refreshTokenTtlSeconds: 180 * 86_400 }, '+91').sessionMaxLifetimeSeconds).toBe(180 * 86_400);
    expect(resolveSettings({ refreshTokenTtlSeconds: 180 * 86_400, sessionMaxLifetimeSeconds: 7 * 86_400 }, '+91').sessionMaxLifetimeSeconds).toBe(7 * 86_400);
  });

  test.each([60, 366 * 86_400, 1.5])('%p is refused on write and ignored on read', (bad) => {
    expect(() => parseSettingsInput({ sessionMaxLifetimeSeconds: bad })).toThrow(SettingsError);
    expect(resolveSettings({ sessionMaxLifetimeSeconds: bad }, '+91').sessionMaxLifetimeSeconds).toBe(90 * 86_400);
  });
});

describe('whatsappConfigs', () => {
  const uid = '5a706684-851f-3a27-b0d1-284155d8f862';
  const other = '0f8fad5b-d9cb-469f-a165-70867728950e';
  const full = { from: '+14155238886', contentSid: `HX${'0123456789abcdef'.repeat(2)}`, codeLength: 8, otpTtlSeconds: 120 };

  test('none by default', () => {
    expect(resolveSettings({}, '+91').whatsappConfigs).toEqual({});
  });

  test('valid configurations are kept as stored', () => {
    expect(resolveSettings({ whatsappConfigs: { [uid]: full, [other]: {} } }, '+91').whatsappConfigs).toEqual({ [uid]: full, [other]: {} });
  });

  test.each<[string, unknown]>([
    ['a sender that is not E.164', { from: '14155238886' }],
    ['a sender with the whatsapp: prefix', { from: 'whatsapp:+14155238886' }],
    ['a Content SID that is not HX + 32 hex', { contentSid: 'HX123' }],
    ['a code validity over 10 minutes', { otpTtlSeconds: 601 }],
    ['a code length of 3', { codeLength: 3 }],
    ['a configuration that is not an object', 'nope'],
  ])('one with %s is dropped, the others stay', (_, bad) => {
    const { whatsappConfigs } = resolveSettings({ whatsappConfigs: { [uid]: full, [other]: bad } }, '+91');
    expect(whatsappConfigs).toEqual({ [uid]: full });
  });

  test('uids that are not lower-case UUIDs are dropped (they could never match a path)', () => {
    // As DynamoDB could hand it back: "__proto__" as an own key, not the literal's prototype.
    const stored = JSON.parse(JSON.stringify({ 'not-a-uid': full, [uid.toUpperCase()]: full, [uid]: full }).replace('{', '{"__proto__":{},')) as object;
    expect(Object.keys(stored)).toContain('__proto__');
    expect(Object.keys(resolveSettings({ whatsappConfigs: stored }, '+91').whatsappConfigs)).toEqual([uid]);
  });

  test('the schema the CLI validates with names the field at fault', () => {
    const result = v.safeParse(settingsSchema, { whatsappConfigs: { [uid]: { from: '123' } } });
    expect(result.success).toBe(false);
    expect(v.getDotPath(result.issues![0])).toBe(`whatsappConfigs.${uid}.from`);
    expect(result.issues![0].message).toMatch(/from must be a WhatsApp sender number in E\.164/);
  });

  test('the rest of the settings survive a bad whatsappConfigs value', () => {
    const settings = resolveSettings({ codeLength: 8, whatsappConfigs: [full] }, '+91');
    expect(settings.codeLength).toBe(8);
    expect(settings.whatsappConfigs).toEqual({});
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
    expect(problems({ colour: 'blue' })[0]).toMatch(/^colour: unknown setting \(known: appName, codeLength, .*webOtpDomain.*\)$/);
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
