import { resolveSettings } from '#core/tenancy/settings';

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
    ['defaultCountryCode', '91'],
    ['allowedCountries', ['in']],
    ['maxAttempts', '5'],
  ])('an out-of-range %s of %p falls back to the default for that field only', (field, bad) => {
    const settings = resolveSettings({ ...custom, [field]: bad }, '+91');
    // allowedCountries falls back to the main country of the project's own default code (+1 here).
    expect(settings).toMatchObject({ ...custom, [field]: field === 'allowedCountries' ? ['US'] : defaults[field] });
  });
});
