import { resolveSettings } from '#core/tenancy/settings';

const custom = {
  codeLength: 8,
  otpTtlSeconds: 600,
  maxAttempts: 3,
  tokenTtlSeconds: 7200,
  refreshTokenTtlSeconds: 7 * 86_400,
  defaultCountryCode: '+1',
  allowedCountries: ['IN', 'US'],
};

const defaults = {
  codeLength: 6,
  otpTtlSeconds: 300,
  maxAttempts: 5,
  tokenTtlSeconds: 3600,
  refreshTokenTtlSeconds: 30 * 86_400,
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
    ['refreshTokenTtlSeconds', 60],
    ['refreshTokenTtlSeconds', 366 * 86_400],
    ['defaultCountryCode', '91'],
    ['allowedCountries', ['in']],
    ['maxAttempts', '5'],
  ])('an out-of-range %s of %p falls back to the default for that field only', (field, bad) => {
    const settings = resolveSettings({ ...custom, [field]: bad }, '+91');
    expect(settings).toMatchObject({ ...custom, [field]: defaults[field] });
  });
});
