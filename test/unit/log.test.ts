import { jest } from '@jest/globals';
import { addLogContext, describeError, log, mask, redact, withLogContext } from '#core/log';

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
    expect(JSON.parse(String(out.mock.calls[0]?.[0]))).toMatchObject({ level: 'INFO', message: 'otp sent', channel: 'sms', service: 'otpgate' });
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

  const lines = () => out.mock.calls.map((call: unknown[]) => JSON.parse(String(call[0])) as Record<string, unknown>);

  test('a field named like a secret is never printed, whoever passes it; an unmasked address is masked', () => {
    process.env.LOG_LEVEL = 'info';
    log.info('careless', { code: '123456', otp_code: '654321', token: 'eyJhbGciOi.x.y', refresh_token: 'ogr_abc', appKey: 'og_live_key', 'x-api-key': 'xk', authorization: 'Bearer t', to: '+919876543211', email: 'ana@example.com' });
    const text = String(out.mock.calls[0]?.[0]);
    for (const secret of ['123456', '654321', 'eyJhbGciOi', 'ogr_abc', 'og_live_key', 'Bearer', '9876543', 'ana@']) expect(text).not.toContain(secret);
    expect(lines()[0]).toMatchObject({ code: '[redacted]', token: '[redacted]', to: '+91*******211', email: 'a**@example.com' });
  });

  test('an already masked address and error fields pass as they are', () => {
    expect(redact('to', '+91*******211')).toBe('+91*******211');
    expect(redact('errorCode', 'invalid_otp')).toBe('invalid_otp');
    expect(redact('identity', 'phone')).toBe('phone');
  });

  test('every line of a request carries its fields, added ones included; concurrent requests never mix them', async () => {
    process.env.LOG_LEVEL = 'info';
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    const request = (requestId: string, projectId: string) =>
      withLogContext({ requestId }, async () => {
        log.info('start');
        await tick();
        addLogContext({ projectId });
        await tick();
        log.info('middle');
        await tick();
        log.info('end', { step: 3 });
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => request(`r${i}`, `p${i}`)));
    const printed = lines();
    expect(printed).toHaveLength(60);
    for (const line of printed) {
      const i = String(line.requestId).slice(1);
      if (line.message === 'start') expect(line).not.toHaveProperty('projectId');
      else expect(line.projectId).toBe(`p${i}`);
    }
    // Outside any request, no request field leaks in.
    log.info('idle');
    expect(printed.length + 1).toBe(lines().length);
    expect(lines().at(-1)).not.toHaveProperty('requestId');
  });

  test('warnings and errors go to stderr', () => {
    process.env.LOG_LEVEL = 'info';
    const err = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      log.warn('careful');
      log.error('broken', { errorType: 'TypeError' });
      expect(out).not.toHaveBeenCalled();
      expect(err.mock.calls.map((c) => JSON.parse(String(c[0])).level)).toEqual(['WARN', 'ERROR']);
    } finally {
      err.mockRestore();
    }
  });

  test('LOG_LEVEL=silent prints nothing at all', () => {
    process.env.LOG_LEVEL = 'silent';
    log.error('even this');
    log.info('and this');
    expect(out).not.toHaveBeenCalled();
  });
});
