import { startTestApi } from '../support/local-api';
import { isAnswer, rawRequest, type RawRequest, type RawResponse } from '../support/raw-http';

/**
 * The answers the local server makes itself, not a function: unknown paths, wrong methods, bodies
 * over its limit, and requests Node's HTTP parser refuses. Each must be the JSON error shape with
 * the same security headers as every function's answer, as a client (or the fuzzing suite) relies on.
 */

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

const send = async (request: RawRequest): Promise<RawResponse> => {
  const outcome = await rawRequest(api.port, request);
  if (!isAnswer(outcome)) throw new Error(`no answer: ${outcome.failure}`);
  return outcome;
};

const host: [string, string] = ['Host', '127.0.0.1'];

const expectJsonError = (res: RawResponse, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(JSON.parse(res.body)).toEqual({ error: { code, message: expect.any(String) } });
};

describe('requests Node refuses get the JSON error shape, not an empty 400', () => {
  test.each<[string, RawRequest, number, string]>([
    [
      'a header line with a space before the colon (the seeds write `APP-KEY : value`)',
      { method: 'POST', target: '/v1/send-verification-code', headers: [host, ['APP-KEY ', 'og_x'], ['Content-Type', 'application/json']], body: '{}' },
      400,
      'bad_request',
    ],
    ['headers over 16 kB', { method: 'GET', target: '/auth/p/e/.well-known/jwks.json', headers: [host, ['X-Big', 'a'.repeat(20_000)]] }, 431, 'headers_too_large'],
    ['a request line that is not HTTP', { method: 'GET', target: '/a b', headers: [host] }, 400, 'bad_request'],
    ['an unknown method', { method: 'BREW', target: '/', headers: [host] }, 400, 'bad_request'],
    ['a body framed two ways at once', { method: 'POST', target: '/v1/send-verification-code', headers: [host, ['Transfer-Encoding', 'chunked'], ['Content-Length', '2']], body: '{}' }, 400, 'bad_request'],
  ])('%s', async (_name, request, status, code) => {
    expectJsonError(await send(request), status, code);
  });

  test('a request target no URL parser accepts is 400 JSON', async () => {
    expectJsonError(await send({ method: 'GET', target: 'http://[', headers: [host] }), 400, 'bad_request');
  });
});

describe("the local server's own answers", () => {
  test('an unknown path is 404 JSON with the security headers', async () => {
    expectJsonError(await send({ method: 'GET', target: '/nothing/here', headers: [host] }), 404, 'not_found');
  });

  test('a wrong method is 405 with Allow', async () => {
    const post = await send({ method: 'DELETE', target: '/v1/send-verification-code', headers: [host] });
    expectJsonError(post, 405, 'method_not_allowed');
    expect(post.headers.allow).toBe('POST, OPTIONS');
    const get = await send({ method: 'POST', target: '/auth/p/e/.well-known/jwks.json', headers: [host] });
    expectJsonError(get, 405, 'method_not_allowed');
    expect(get.headers.allow).toBe('GET, HEAD, OPTIONS');
    const dev = await send({ method: 'POST', target: '/_dev/messages', headers: [['Host', 'localhost']] });
    expectJsonError(dev, 405, 'method_not_allowed');
    expect(dev.headers.allow).toBe('GET, HEAD');
  });

  test('a body over 64 kB is 413 JSON', async () => {
    expectJsonError(await send({ method: 'POST', target: '/v1/send-verification-code', headers: [host], body: 'x'.repeat(70_000) }), 413, 'payload_too_large');
  });

  test('HEAD on a GET route answers as GET does, without the body', async () => {
    const target = '/auth/nobody/development/.well-known/jwks.json';
    const get = await send({ method: 'GET', target, headers: [host] });
    const head = await send({ method: 'HEAD', target, headers: [host] });
    expect(get.status).toBe(404);
    expect(JSON.parse(get.body).error.code).toBe('project_not_found');
    expect(head.status).toBe(get.status);
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    expect(head.headers['x-content-type-options']).toBe('nosniff');
    expect(head.body).toBe('');
    const messages = await send({ method: 'HEAD', target: '/_dev/messages', headers: [['Host', 'localhost']] });
    expect(messages.status).toBe(200);
    expect(messages.body).toBe('');
  });

  test('traversal in the path reaches no other route, and never /_dev from another Host', async () => {
    for (const target of ['/auth/p/e/../../../_dev/messages', '/otp/%2e%2e/%2e%2e/_dev/messages', '/v1/..%2F_dev%2Fmessages']) {
      const res = await send({ method: 'GET', target, headers: [['Host', 'evil.example']] });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(JSON.parse(res.body).error.code).toEqual(expect.any(String));
    }
  });
});
