import { jest } from '@jest/globals';
import { describeError, log, mask } from '#core/log';

describe('mask', () => {
  test('hides the middle of a phone number, keeping at most the first 3 and last 3 characters', () => {
    const masked = mask('+919876543211');
    expect(masked).not.toContain('9876543211');
    expect(masked.slice(0, 3)).toBe('+91');
    expect(masked.slice(-3)).toBe('211');
    expect(masked.slice(3, -3)).toMatch(/^\*+$/);
  });

  test('keeps the domain of an email and hides the local part', () => {
    const masked = mask('ana@example.com');
    expect(masked.endsWith('@example.com')).toBe(true);
    expect(masked).not.toContain('ana');
  });
});

describe('describeError', () => {
  test('drops the message, which may echo a secret, but keeps the name and code', () => {
    const error = Object.assign(new TypeError('bad token eyJhbGciOi.SECRET-VALUE'), { code: 'ERR_BAD' });
    const described = describeError(error);
    expect(described).toMatchObject({ errorType: 'TypeError', errorCode: 'ERR_BAD' });
    expect(described).not.toHaveProperty('message');
    expect(JSON.stringify(described)).not.toContain('SECRET-VALUE');
  });

  test('keeps a numeric code and the HTTP status of an AWS SDK error', () => {
    const error = Object.assign(new Error('secret-in-message'), { code: 20003, $metadata: { httpStatusCode: 503 } });
    expect(describeError(error)).toEqual({ errorType: 'Error', errorCode: 20003, errorStatus: 503 });
  });

  test('a thrown non-Error reveals only its type', () => {
    expect(describeError('secret-string')).toEqual({ errorType: 'string' });
  });
});

describe('log', () => {
  const saved = process.env.LOG_LEVEL;
  let out: ReturnType<typeof jest.spyOn>;
  beforeEach(() => {
    out = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => {
    out.mockRestore();
    if (saved === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = saved;
  });

  test('writes one JSON line at level info', () => {
    process.env.LOG_LEVEL = 'info';
    log.info('otp sent', { channel: 'sms' });
    expect(out).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(out.mock.calls[0]?.[0]))).toMatchObject({ level: 'info', message: 'otp sent', channel: 'sms' });
  });

  test('drops info when LOG_LEVEL is warn', () => {
    process.env.LOG_LEVEL = 'warn';
    log.info('otp sent');
    expect(out).not.toHaveBeenCalled();
  });

  test('drops debug at info but prints it at debug', () => {
    process.env.LOG_LEVEL = 'info';
    log.debug('detail');
    expect(out).not.toHaveBeenCalled();
    process.env.LOG_LEVEL = 'debug';
    log.debug('detail');
    expect(out).toHaveBeenCalledTimes(1);
  });
});
