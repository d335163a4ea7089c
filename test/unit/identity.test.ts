import { emailIdentity, emailKey, normaliseEmail, normalisePhone } from '#core/otp/identity';

const policy = { defaultCountryCode: '+91', allowedCountries: ['*'] };
const india = { e164: '+919876543211', nationalNumber: '9876543211', countryCallingCode: '+91', country: 'IN' };
const us = { e164: '+12015550123', nationalNumber: '2015550123', countryCallingCode: '+1', country: 'US' };

const apiError = (code: string, field: string, status = 400) => expect.objectContaining({ name: 'ApiError', status, code, field });

describe('normalisePhone', () => {
  test('national mobile with country_code "+91"', () => {
    expect(normalisePhone({ mobile: '9876543211', countryCode: '+91' }, policy)).toEqual(india);
  });

  test('country_code without the plus', () => {
    expect(normalisePhone({ mobile: '9876543211', countryCode: '91' }, policy)).toEqual(india);
  });

  test('no country_code uses the project default', () => {
    expect(normalisePhone({ mobile: '9876543211' }, policy)).toEqual(india);
    expect(normalisePhone({ mobile: '2015550123' }, { defaultCountryCode: '+1', allowedCountries: ['*'] })).toEqual(us);
  });

  test.each(['+919876543211', '00919876543211', '+91 98765-43211', '(987) 654-3211', ' 98765 43211 '])(
    'accepts the written form %p',
    (mobile) => {
      expect(normalisePhone({ mobile }, policy)).toEqual(india);
    },
  );

  test('a US number with country_code "+1"', () => {
    expect(normalisePhone({ mobile: '(201) 555-0123', countryCode: '+1' }, policy)).toEqual(us);
    expect(normalisePhone({ mobile: '+12015550123', countryCode: '+1' }, policy)).toEqual(us);
  });

  test('rejects a country_code that contradicts an international mobile, on field country_code', () => {
    expect(() => normalisePhone({ mobile: '+919876543211', countryCode: '+1' }, policy)).toThrow(
      apiError('invalid_mobile', 'country_code'),
    );
  });

  test('rejects a malformed country_code on field country_code', () => {
    expect(() => normalisePhone({ mobile: '9876543211', countryCode: 'abc' }, policy)).toThrow(
      apiError('invalid_mobile', 'country_code'),
    );
  });

  // Found by the soak run's hostile requests: these made the phone parser throw, and every route that takes a country code answered 500.
  test.each(['+13', '13', '+999', '+42', '+0'])('rejects country_code %p, which no country has, on field country_code', (countryCode) => {
    expect(() => normalisePhone({ mobile: '561797500', countryCode }, policy)).toThrow(apiError('invalid_mobile', 'country_code'));
  });

  test.each(['123', '98765abcde', '', '   ', '98765'])('rejects mobile %p on field mobile', (mobile) => {
    expect(() => normalisePhone({ mobile }, policy)).toThrow(apiError('invalid_mobile', 'mobile'));
  });

  test('allowedCountries refuses a number from another country with 403 country_not_allowed, and accepts an allowed one', () => {
    const usOnly = { defaultCountryCode: '+91', allowedCountries: ['US'] };
    expect(() => normalisePhone({ mobile: '9876543211' }, usOnly)).toThrow(apiError('country_not_allowed', 'mobile', 403));
    expect(() => normalisePhone({ mobile: '+919876543211' }, usOnly)).toThrow(apiError('country_not_allowed', 'mobile', 403));
    expect(normalisePhone({ mobile: '2015550123', countryCode: '+1' }, usOnly)).toEqual(us);
  });

  test.each([
    ['+19005551234', 'premium rate'],
    ['+18005551234', 'toll free'],
    ['+447012345678', 'a UK 070 personal number, priced like premium rate'],
    ['+15005550006', "Twilio's magic test number, a personal number too"],
    ['+445612345678', 'a UK VoIP number'],
    ['+33912345678', 'a French VoIP number'],
  ])('refuses %p (%s): no code can be sent there, and SMS pumping pays out there', (mobile) => {
    expect(() => normalisePhone({ mobile }, policy)).toThrow(apiError('invalid_mobile', 'mobile'));
  });

  test("the local Twilio endpoint's failing numbers (+1 202 555 01NN) pass every check, so its refusals can be reached", () => {
    for (const mobile of ['+12025550101', '+12025550102', '+12025550103', '+12025550104', '+12025550109']) {
      expect(normalisePhone({ mobile }, { defaultCountryCode: '+91', allowedCountries: ['US'] }).e164).toBe(mobile);
    }
  });

  test('a listed test number is accepted as it is, even a fictional one no real check would pass', () => {
    const fictional = '+15559876543';
    expect(() => normalisePhone({ mobile: '+1(555)987-6543' }, policy)).toThrow(apiError('invalid_mobile', 'mobile'));
    const withTest = { ...policy, allowedCountries: ['IN'], testIdentifiers: { [fictional]: '133575' } };
    expect(normalisePhone({ mobile: '+1(555)987-6543' }, withTest)).toMatchObject({ e164: fictional });
  });
});

describe('normaliseEmail', () => {
  test('trims and lower-cases', () => {
    expect(normaliseEmail('  Ana.Maria@Example.COM ')).toBe('ana.maria@example.com');
  });

  test('accepts a 254-character address', () => {
    const address = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
    expect(address).toHaveLength(254);
    expect(normaliseEmail(address)).toBe(address);
  });

  test.each([
    ['no @', 'no-at-sign'],
    ['no domain dot', 'a@b'],
    ['empty', ''],
    // Well formed but 300 characters: only the length limit rejects it.
    ['300 characters', `${'a'.repeat(288)}@example.com`],
  ])('rejects %s with invalid_email on field email', (_label, value) => {
    expect(() => normaliseEmail(value)).toThrow(apiError('invalid_email', 'email'));
  });
});

describe('emailKey', () => {
  test.each([
    ['ana.maria+news@gmail.com', 'anamaria@gmail.com'],
    ['a.n.a.maria@googlemail.com', 'anamaria@gmail.com'],
    ['anamaria@gmail.com', 'anamaria@gmail.com'],
    ['ana.maria+news@example.com', 'ana.maria+news@example.com'],
    ['ana+x@gmail.com.evil.example', 'ana+x@gmail.com.evil.example'],
    ['+only@gmail.com', '+only@gmail.com'],
  ])('%p is keyed as %p', (address, key) => {
    expect(emailKey(address)).toBe(key);
  });

  test('a Gmail alias keeps the typed address to deliver to; any other address is its own key', () => {
    expect(emailIdentity('ana.maria+news@gmail.com')).toEqual({ kind: 'email', address: 'anamaria@gmail.com', deliverTo: 'ana.maria+news@gmail.com' });
    expect(emailIdentity('ana@example.com')).toEqual({ kind: 'email', address: 'ana@example.com' });
  });
});
