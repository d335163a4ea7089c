import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ApiError, errors } from '#core/errors';
import { createVerificationBody, parse, updateVerificationBody, verificationCheckBody } from '#core/styles/twilio-verify-schemas';
import { twilioAnswersOf, twilioCodeFor, twilioVerifyError, verifyErrors } from '#core/styles/twilio-verify';

/** The Twilio Verify style's one error table: what each otpgate error becomes in Twilio's shape. */

const event = (path: string) => ({ rawPath: path, requestContext: { http: { path } } }) as unknown as APIGatewayProxyEventV2;
const render = (error: ApiError, path = '/v2/Services/VA0123/Verifications') => {
  const result = twilioVerifyError(error, event(path));
  return { status: result.statusCode, headers: result.headers ?? {}, body: JSON.parse(result.body ?? 'null') as Record<string, unknown> };
};

const caught = (fn: () => unknown): ApiError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
};

describe("otpgate's errors in Twilio's shape", () => {
  test.each([
    ['missing app key', 401, 20003, errors.missingAppKey()],
    ['invalid app key', 401, 20003, errors.invalidAppKey()],
    ['invalid request', 400, 60200, errors.invalidRequest('To is required.', 'To')],
    ['invalid mobile', 400, 60200, errors.invalidMobile('To is not a valid phone number for its country.', 'To')],
    ['invalid email', 400, 60200, errors.invalidEmail('email is not a valid email address.')],
    ['country not allowed', 403, 60410, errors.countryNotAllowed()],
    ['too many attempts', 429, 60202, errors.tooManyAttempts()],
    ['too many failures', 429, 60202, errors.tooManyFailures(60)],
    ["the identifier's send window", 429, 60203, errors.tooManyRequests(60)],
    ['the per-IP limit', 429, 20429, errors.tooManyRequests(60, 'codes requested from this network', 'ip_sends')],
    ['resend too soon', 429, 20429, errors.resendTooSoon(20)],
    ['budget exceeded', 429, 20429, errors.budgetExceeded(600)],
    ['no pending code', 404, 20404, errors.noPendingOtp()],
    ['expired code', 404, 20404, errors.otpExpired()],
    ['delivery failed', 503, 20503, errors.deliveryFailed('sms', new Error('socket hang up'))],
    ['timeout', 503, 20503, errors.timeout()],
    ['internal', 500, 20500, errors.internal()],
    ['channel disabled', 400, 60223, verifyErrors.channelDisabled('call')],
    ['custom code not enabled', 403, 60204, verifyErrors.customCodeNotEnabled()],
    ['no such verification', 404, 20404, verifyErrors.notFound()],
    ['concurrent creates', 429, 60212, verifyErrors.concurrent()],
  ] as const)('%s: %i, Twilio %i', (_name, status, code, error) => {
    const res = render(error);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ code, message: expect.any(String), more_info: `https://www.twilio.com/docs/errors/${code}`, status });
  });

  test('every error otpgate has is answered with a Twilio code and a matching status, never an otpgate code', () => {
    const samples: ApiError[] = [
      errors.userExists(),
      errors.userNotFound(),
      errors.invalidOtp(3),
      errors.invalidRefreshToken(),
      errors.missingAccessToken(),
      errors.invalidAccessToken(),
      errors.projectNotFound(),
      errors.otpConfigNotFound(),
    ];
    for (const error of samples) {
      const { code, status } = twilioCodeFor(error);
      expect(Number.isInteger(code) && code >= 20000 && code < 70000).toBe(true);
      expect(render(error).body.status).toBe(status);
    }
  });

  test("the identifier's send window (60203) and the per-IP limit (20429) are told apart by the limit the error names, not by its wording", () => {
    const identifier = errors.tooManyRequests(60);
    const perIp = errors.tooManyRequests(60, 'codes requested from this network', 'ip_sends');
    expect([identifier.limit, perIp.limit]).toEqual(['identifier_sends', 'ip_sends']);
    // The same code and the same words, different limits: different Twilio codes.
    const reworded = (limit: 'identifier_sends' | 'ip_sends') => new ApiError(429, 'too_many_requests', 'Slow down.', { limit });
    expect(twilioCodeFor(reworded('identifier_sends'))).toMatchObject({ code: 60203, status: 429 });
    expect(twilioCodeFor(reworded('ip_sends'))).toMatchObject({ code: 20429, status: 429 });
    // The limit stays inside: the client sees the code and the message only.
    expect(JSON.stringify(perIp.toBody())).not.toContain('ip_sends');
  });

  test('a parameter error names the parameter as Twilio does', () => {
    expect(render(errors.invalidRequest('To is required.', 'To')).body.message).toBe('Invalid parameter `To`: To is required.');
  });

  test('not found names the resource, as Twilio does', () => {
    expect(render(verifyErrors.notFound(), '/v2/Services/VAabc/VerificationCheck').body.message).toBe('The requested resource /Services/VAabc/VerificationCheck was not found');
  });

  test('401 carries a Basic challenge, so curl and browsers know to send credentials', () => {
    expect(render(errors.missingAppKey()).headers).toMatchObject({ 'www-authenticate': 'Basic realm="otpgate"' });
    expect(render(errors.invalidRequest('x')).headers).not.toHaveProperty('www-authenticate');
  });

  test("numbers Twilio's Messages API refused answer what Verify answers for them; other refusals are a retryable 503", () => {
    const refused = (code: number) => errors.deliveryFailed('sms', Object.assign(new Error('refused'), { code }));
    expect(twilioCodeFor(refused(21211))).toMatchObject({ code: 60200, status: 400 });
    expect(twilioCodeFor(refused(21614))).toMatchObject({ code: 60205, status: 400 });
    expect(twilioCodeFor(refused(21408))).toMatchObject({ code: 60605, status: 403 });
    expect(twilioCodeFor(refused(21610))).toMatchObject({ code: 20503, status: 503 });
  });

  test('twilioAnswersOf (what the OpenAPI document lists) holds every answer an error of that code gets, whatever its details', () => {
    const refused = (code: number) => errors.deliveryFailed('sms', Object.assign(new Error('refused'), { code }));
    const samples = [
      errors.missingAppKey(),
      errors.invalidRequest('x', 'To'),
      errors.countryNotAllowed(),
      errors.tooManyRequests(60),
      errors.tooManyRequests(60, 'codes requested from this network', 'ip_sends'),
      errors.tooManyFailures(60),
      errors.otpExpired(),
      refused(21211),
      refused(21614),
      refused(21408),
      refused(21610),
      errors.timeout(),
      errors.internal(),
      verifyErrors.channelDisabled('sna'),
      verifyErrors.concurrent(),
    ];
    for (const error of samples) expect({ code: error.code, answers: twilioAnswersOf(error.code) }).toEqual({ code: error.code, answers: expect.arrayContaining([twilioCodeFor(error)]) });
    expect(twilioAnswersOf('user_exists')).toEqual([]);
  });
});

describe('request bodies', () => {
  test('To and Channel are required; an empty value counts as absent', () => {
    expect(caught(() => parse(createVerificationBody, { Channel: 'sms' }))).toMatchObject({ code: 'invalid_request', field: 'To', message: 'To is required.' });
    expect(caught(() => parse(createVerificationBody, { To: '+919876543210', Channel: '' }))).toMatchObject({ field: 'Channel', message: 'Channel is required.' });
    expect(parse(createVerificationBody, { To: '+919876543210', Channel: 'sms', Locale: '', CustomCode: '' })).toEqual({ To: '+919876543210', Channel: 'sms' });
  });

  test('optional parameters are checked: Locale, CustomFriendlyName, CustomCode, AppHash, DeviceIp', () => {
    const base = { To: '+919876543210', Channel: 'sms' };
    expect(parse(createVerificationBody, { ...base, Locale: 'zh-HK', AppHash: 'FA+9qCX9VSu', DeviceIp: '2001:db8::1', CustomCode: '0042' })).toMatchObject({
      Locale: 'zh-HK',
      AppHash: 'FA+9qCX9VSu',
      DeviceIp: '2001:db8::1',
      CustomCode: '0042',
    });
    expect(caught(() => parse(createVerificationBody, { ...base, CustomFriendlyName: 'x'.repeat(31) }))).toMatchObject({ field: 'CustomFriendlyName' });
    expect(caught(() => parse(createVerificationBody, { ...base, CustomCode: '12ab' }))).toMatchObject({ field: 'CustomCode' });
    expect(caught(() => parse(createVerificationBody, { ...base, AppHash: 'short' }))).toMatchObject({ field: 'AppHash' });
    expect(caught(() => parse(createVerificationBody, { ...base, DeviceIp: '999.1.1.1' }))).toMatchObject({ field: 'DeviceIp' });
  });

  test('a check needs a 4-10 digit Code; Status is canceled or approved', () => {
    expect(caught(() => parse(verificationCheckBody, { To: '+919876543210' }))).toMatchObject({ field: 'Code', message: 'Code is required.' });
    expect(caught(() => parse(verificationCheckBody, { Code: '123' }))).toMatchObject({ field: 'Code' });
    expect(parse(verificationCheckBody, { Code: ' 123456 ', VerificationSid: `VE${'a'.repeat(32)}` })).toMatchObject({ Code: '123456' });
    expect(caught(() => parse(updateVerificationBody, { Status: 'pending' }))).toMatchObject({ field: 'Status' });
  });
});
