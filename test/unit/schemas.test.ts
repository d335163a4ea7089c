import { ApiError, errors } from '#core/errors';
import { emailBody, mobileBody, parse, submittedCode } from '#core/styles/mobile-email-schemas';

const caught = (fn: () => unknown): ApiError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
};

describe('parse', () => {
  test('a missing mobile is invalid_mobile "mobile is required." on field mobile', () => {
    const error = caught(() => parse(mobileBody, { country_code: '+91' }));
    expect(error).toMatchObject({ status: 400, code: 'invalid_mobile', message: 'mobile is required.', field: 'mobile' });
  });

  test('a numeric mobile becomes a string', () => {
    expect(parse(mobileBody, { mobile: 9876543211, country_code: 91 })).toEqual({
      mobile: '9876543211',
      country_code: '91',
    });
  });

  test('a malformed country_code is invalid_mobile on field country_code', () => {
    expect(caught(() => parse(mobileBody, { mobile: '9876543211', country_code: true }))).toMatchObject({
      code: 'invalid_mobile',
      field: 'country_code',
    });
  });

  test('a non-string email is invalid_email on field email', () => {
    expect(caught(() => parse(emailBody, { email: 5 }))).toMatchObject({
      status: 400,
      code: 'invalid_email',
      field: 'email',
    });
  });

  test('a body that is not an object is invalid_request', () => {
    expect(caught(() => parse(emailBody, null))).toMatchObject({ status: 400, code: 'invalid_request' });
  });
});

describe('submittedCode', () => {
  test('a missing otp_code is invalid_request on field otp_code', () => {
    expect(caught(() => submittedCode(undefined, 6))).toMatchObject({
      status: 400,
      code: 'invalid_request',
      field: 'otp_code',
    });
  });

  test('a code with a letter is invalid_request that names the code length', () => {
    const error = caught(() => submittedCode('12a456', 6));
    expect(error).toMatchObject({ code: 'invalid_request', field: 'otp_code' });
    expect(error.message).toContain('6-digit');
  });

  test('an integer code that lost its leading zero is padded', () => {
    expect(submittedCode(12345, 6)).toBe('012345');
  });
});

describe('ApiError.toBody', () => {
  test('puts field and details inside error', () => {
    expect(errors.invalidOtp(2).toBody()).toStrictEqual({
      error: { code: 'invalid_otp', message: 'The code is not correct.', field: 'otp_code', attempts_remaining: 2 },
    });
  });

  test('omits field when there is none', () => {
    const body = errors.otpExpired().toBody();
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
    expect(body.error.code).toBe('otp_expired');
  });
});
