import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import * as v from 'valibot';
import { buildOpenApiDocument, describeRoutes, documentedErrors, type DescribedRoute } from '#core/openapi/document';
import { runtime } from '#core/runtime';
import { createVerifyService } from '#core/tenancy/verify-services';
import { routes } from '#lib/routes';
import { latestCode, newTenant, uniqueEmail, uniqueIndianMobile, uniqueUsMobile, type TestTenant } from '../support/harness';
import { startTestApi } from '../support/local-api';

/**
 * The document against the running local API: every answer the flows below get, success or
 * error, is parsed with the very valibot schemas the document was generated from (success bodies
 * strictly, errors with the style's envelope narrowed to the codes the route documents for that
 * status). A handler that answers a field, a status or a code the document does not list fails
 * here. And the local stack serves the document at /_dev/openapi.json.
 */

let api: Awaited<ReturnType<typeof startTestApi>>;
let origin: string;
let tenant: TestTenant;
const configUid = randomUUID();

beforeAll(async () => {
  api = await startTestApi();
  origin = `http://127.0.0.1:${api.port}`;
  tenant = await newTenant({ settings: { whatsappConfigs: { [configUid]: { from: '+14155238886' } } } });
});
afterAll(() => api.close());

const described = describeRoutes();
const matchers = described.map((entry) => ({
  entry,
  regex: new RegExp(`^${entry.route.path.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`),
}));
const routeFor = (method: string, path: string): DescribedRoute => {
  const found = matchers.find((m) => m.entry.route.method === method && m.regex.test(path));
  if (!found) throw new Error(`no route for ${method} ${path}`);
  return found.entry;
};

/** Routes whose success answer was checked, and what each error check saw. */
const successes = new Set<string>();
const errorsSeen = new Set<string>();

type Body = Record<string, any>;
const codeIn = (body: Body): unknown => body.code ?? body.error?.code;

/** Fails unless the answer is one the route's operation documents, with a body its schema accepts. */
const expectDocumented = (entry: DescribedRoute, status: number, headers: Headers, body: Body) => {
  const { route, operation, style } = entry;
  const success = operation.responses[status];
  if (success) {
    const parsed = v.safeParse(success.schema, body);
    if (!parsed.success) throw new Error(`${route.id} ${status}: the answer is not as documented: ${v.summarize(parsed.issues)}\n${JSON.stringify(body)}`);
    successes.add(route.id);
    return;
  }
  const group = documentedErrors(entry).get(status);
  if (!group) throw new Error(`${route.id} answered ${status} (${JSON.stringify(body)}), which its operation does not document`);
  const codes = group.map((documented) => documented.error.code) as [string, ...string[]];
  const parsed = v.safeParse(style.errorBody({ codes, status }), body);
  if (!parsed.success) throw new Error(`${route.id} ${status}: the error is not as documented (codes ${codes.join(', ')}): ${v.summarize(parsed.issues)}\n${JSON.stringify(body)}`);
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null) {
    // The code as the style's envelope shows it (Twilio Verify's are Twilio's numbers).
    const waits = group.filter((documented) => documented.error.headers['retry-after'] !== undefined).map((documented) => codeIn(documented.body));
    expect({ route: route.id, code: codeIn(body), documentedWithRetryAfter: waits.includes(codeIn(body)) }).toEqual({ route: route.id, code: codeIn(body), documentedWithRetryAfter: true });
  }
  errorsSeen.add(`${route.id} ${status} ${String(codeIn(body))}`);
};

const send = async (method: 'GET' | 'POST', path: string, options: { body?: unknown; headers?: Record<string, string> } = {}) => {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
    ...(options.body === undefined ? {} : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
  });
  const body = (await res.json()) as Body;
  expectDocumented(routeFor(method, path), res.status, res.headers, body);
  return { status: res.status, body, headers: res.headers };
};

const base = () => `/auth/${tenant.projectId}/${tenant.environment}`;
const appKey = () => ({ 'APP-KEY': tenant.appKey });
const apiKey = () => ({ 'x-api-key': tenant.appKey });
const wrong = (code: string) => (code.startsWith('0') ? `1${code.slice(1)}` : `0${code.slice(1)}`);

describe('every answer of the flows is as the document says', () => {
  test('mobile: signup, a wrong code, verify, login, login with otp_code, and their errors', async () => {
    const mobile = uniqueIndianMobile();
    const post = (action: string, body: unknown, headers: Record<string, string> = appKey()) => send('POST', `${base()}/${action}`, { body, headers });

    expect((await post('mobile-otp-signup', { country_code: '+91', mobile })).status).toBe(201);
    const code = await latestCode(`+91${mobile}`);
    expect((await post('mobile-otp-verify', { mobile, otp_code: wrong(code) })).status).toBe(401);
    const verified = await post('mobile-otp-verify', { mobile, otp_code: Number(code) });
    expect(verified.status).toBe(200);
    // Registered once verified (a signup that never verified may be repeated: README, Reliability).
    expect((await post('mobile-otp-signup', { country_code: '+91', mobile })).body.error.code).toBe('user_exists');
    expect((await post('mobile-otp-verify', { mobile, otp_code: code })).body.error.code).toBe('no_pending_otp');

    expect((await post('mobile-otp-login', { mobile })).status).toBe(200);
    const loginVerify = await post('mobile-otp-login', { mobile, otp_code: await latestCode(`+91${mobile}`) });
    expect(loginVerify.body.access_token).toEqual(expect.any(String));
    expect((await post('mobile-otp-login', { mobile: uniqueIndianMobile() })).body.error.code).toBe('user_not_found');

    expect((await post('mobile-otp-signup', { mobile: '12' })).body.error.code).toBe('invalid_mobile');
    expect((await post('mobile-otp-signup', '{"mobile":', appKey())).body.error.code).toBe('invalid_request');
    expect((await post('mobile-otp-signup', { mobile }, {})).body.error.code).toBe('missing_app_key');
    expect((await post('mobile-otp-signup', { mobile }, { 'APP-KEY': 'og_nope' })).body.error.code).toBe('invalid_app_key');
    // the local Twilio endpoint's "invalid number" (README: +1 202 555 01NN): the provider refuses it.
    expect((await post('mobile-otp-signup', { country_code: '+1', mobile: '2025550101' })).body.error.code).toBe('delivery_failed');
  });

  test('email: signup, login, verify, login with otp_code, and a bad address', async () => {
    const email = uniqueEmail();
    const post = (action: string, body: unknown) => send('POST', `${base()}/${action}`, { body, headers: appKey() });
    expect((await post('email-otp-signup', { email })).status).toBe(201);
    expect((await post('email-otp-verify', { email, otp_code: await latestCode(email) })).status).toBe(200);
    expect((await post('email-otp-login', { email })).status).toBe(200);
    expect((await post('email-otp-login', { email, otp_code: await latestCode(email) })).body.refresh_token).toMatch(/^ogr_/);
    expect((await post('email-otp-signup', { email: 'not an address' })).body.error.code).toBe('invalid_email');
  });

  test('sessions and discovery: refresh, logout, JWKS, OpenID configuration, and their errors', async () => {
    const email = uniqueEmail();
    await send('POST', `${base()}/email-otp-signup`, { body: { email }, headers: appKey() });
    const tokens = (await send('POST', `${base()}/email-otp-verify`, { body: { email, otp_code: await latestCode(email) }, headers: appKey() })).body;

    const refreshed = await send('POST', `${base()}/token/refresh`, { body: { refresh_token: tokens.refresh_token }, headers: appKey() });
    expect(refreshed.status).toBe(200);
    expect((await send('POST', `${base()}/token/refresh`, { body: { refresh_token: 'ogr_nope' }, headers: appKey() })).body.error.code).toBe('invalid_refresh_token');
    expect((await send('POST', `${base()}/logout`, { headers: appKey() })).body.error.code).toBe('missing_access_token');
    expect((await send('POST', `${base()}/logout`, { headers: { ...appKey(), authorization: 'Bearer x.y.z' } })).body.error.code).toBe('invalid_access_token');
    const out = await send('POST', `${base()}/logout`, { body: { all: true }, headers: { ...appKey(), authorization: `Bearer ${refreshed.body.access_token}` } });
    expect(out.body).toEqual({ logged_out: true, sessions: 'all' });

    expect((await send('GET', `${base()}/.well-known/jwks.json`)).body.keys.length).toBeGreaterThan(0);
    expect((await send('GET', `${base()}/.well-known/openid-configuration`)).status).toBe(200);
    expect((await send('GET', `/auth/${tenant.projectId}/nowhere/.well-known/jwks.json`)).body.error.code).toBe('project_not_found');
  });

  test('verification id: send, authenticate, and its errors in its envelope', async () => {
    const us = uniqueUsMobile();
    const phoneNumber = `+1 (${us.slice(0, 3)}) ${us.slice(3, 6)}-${us.slice(6)}`;
    const sent = await send('POST', '/v1/send-verification-code', { body: { phoneNumber }, headers: apiKey() });
    expect(sent.status).toBe(200);
    const code = await latestCode(`+1${us}`);
    const auth = (body: unknown, headers: Record<string, string> = apiKey()) => send('POST', '/v1/user/authenticate', { body, headers });
    expect((await auth({ idType: 'email', phoneNumber, verificationCode: code })).body.error.code).toBe('invalid_request');
    expect((await auth({ idType: 'smsVerificationCode', phoneNumber, verificationCode: wrong(code) })).status).toBe(401);
    expect((await auth({ idType: 'smsVerificationCode', phoneNumber, verificationCode: code })).status).toBe(200);
    expect((await auth({ idType: 'smsVerificationCode', phoneNumber, verificationCode: code }, {})).body.error.code).toBe('missing_app_key');
  });

  test('WhatsApp: sendOTP, a wrong code (403), verifyOTP, a used id (404), an unknown configuration (404)', async () => {
    const mobileNumber = uniqueIndianMobile();
    const sent = await send('POST', `/otp/${configUid}/sendOTP`, { body: { name: 'Ana', mobileNumber, countryCode: '+91' }, headers: { 'X-API-KEY': tenant.appKey } });
    expect(sent.status).toBe(201);
    const code = await latestCode(`+91${mobileNumber}`);
    const verify = (otp: string) => send('POST', `/otp/${sent.body.id}/verifyOTP`, { body: { otp, mobileNumber, countryCode: '91' }, headers: { 'X-API-KEY': tenant.appKey } });
    expect((await verify(wrong(code))).status).toBe(403);
    expect((await verify(code)).status).toBe(200);
    expect((await verify(code)).status).toBe(404);
    expect((await send('POST', `/otp/${randomUUID()}/sendOTP`, { body: { mobileNumber }, headers: { 'X-API-KEY': tenant.appKey } })).body.code).toBe('otp_config_not_found');
  });

  describe('Twilio Verify: form bodies, HTTP Basic, errors in Twilio\'s shape', () => {
    /** A form post or a GET as the twilio SDK sends them: Basic auth, form-encoded body. */
    const verifyCall = async (method: 'GET' | 'POST', path: string, fields: Record<string, string> | undefined, auth: string | null, contentType = 'application/x-www-form-urlencoded') => {
      const res = await fetch(`${origin}${path}`, {
        method,
        headers: {
          ...(auth === null ? {} : { authorization: `Basic ${Buffer.from(auth).toString('base64')}` }),
          ...(fields === undefined ? {} : { 'content-type': contentType }),
        },
        ...(fields === undefined ? {} : { body: contentType.includes('json') ? JSON.stringify(fields) : new URLSearchParams(fields).toString() }),
      });
      const body = (await res.json()) as Body;
      expectDocumented(routeFor(method, path), res.status, res.headers, body);
      return { status: res.status, body };
    };
    const serviceOf = async (t: TestTenant) => {
      const service = await createVerifyService(runtime().repo, t);
      const auth = `${service.accountSid}:${t.appKey}`;
      const base = `/v2/Services/${service.serviceSid}`;
      return {
        create: (fields: Record<string, string>, as: string | null = auth, type?: string) => verifyCall('POST', `${base}/Verifications`, fields, as, type),
        check: (fields: Record<string, string>) => verifyCall('POST', `${base}/VerificationCheck`, fields, auth),
        fetch: (sid: string) => verifyCall('GET', `${base}/Verifications/${sid}`, undefined, auth),
        update: (sid: string, fields: Record<string, string>) => verifyCall('POST', `${base}/Verifications/${sid}`, fields, auth),
        accountSid: service.accountSid,
        auth,
      };
    };

    test('create, a wrong code (200 pending), the right one (200 approved), fetch, cancel, and 404 20404 after', async () => {
      const verify = await serviceOf(tenant);
      const to = `+91${uniqueIndianMobile()}`;
      const created = await verify.create({ To: to, Channel: 'sms' });
      expect(created).toMatchObject({ status: 201, body: { to, status: 'pending', valid: false } });
      const code = await latestCode(to);
      expect((await verify.check({ To: to, Code: wrong(code) })).body).toMatchObject({ status: 'pending', valid: false });
      expect((await verify.check({ VerificationSid: created.body.sid, Code: code })).body).toMatchObject({ status: 'approved', valid: true });
      expect((await verify.check({ To: to, Code: code })).body).toMatchObject({ code: 20404, status: 404 });
      expect((await verify.fetch(created.body.sid)).body).toMatchObject({ sid: created.body.sid, status: 'approved' });

      const email = uniqueEmail();
      const pending = await verify.create({ To: email, Channel: 'email', Amount: '10 EUR', Payee: 'Acme' });
      expect(pending.body).toMatchObject({ channel: 'email', amount: '10 EUR', payee: 'Acme' });
      expect((await verify.update(pending.body.sid, { Status: 'canceled' })).body).toMatchObject({ status: 'canceled', valid: false });
      expect((await verify.update(pending.body.sid, { Status: 'canceled' })).body.code).toBe(20404);
      expect((await verify.fetch(`VE${'0'.repeat(32)}`)).status).toBe(404);
    });

    test("its errors: 401 20003, 400 60200 and 60223, and numbers Twilio refuses (400 60205, 403 60605)", async () => {
      const open = await newTenant({ settings: { allowedCountries: ['IN', 'US'] } });
      const verify = await serviceOf(open);
      const { auth } = verify;
      const to = `+91${uniqueIndianMobile()}`;
      expect((await verify.create({ To: to, Channel: 'sms' }, null)).body.code).toBe(20003);
      expect((await verify.create({ To: to, Channel: 'sms' }, `${verify.accountSid}:og_nope`)).body.code).toBe(20003);
      expect((await verify.create({ Channel: 'sms' })).body).toMatchObject({ code: 60200, message: 'Invalid parameter `To`: To is required.' });
      expect((await verify.create({ To: to, Channel: 'sms' }, auth, 'application/json')).body.code).toBe(60200);
      expect((await verify.create({ To: to, Channel: 'call' })).body.code).toBe(60223);
      expect((await verify.create({ To: 'not a number', Channel: 'sms' })).body.code).toBe(60200);
      // The local endpoint's failing numbers (+1 202 555 01NN, see README): a landline, and a region the account may not send to.
      expect((await verify.create({ To: '+12025550109', Channel: 'sms' })).body).toMatchObject({ code: 60205, status: 400 });
      expect((await verify.create({ To: '+12025550103', Channel: 'sms' })).body).toMatchObject({ code: 60605, status: 403 });
      expect((await verify.check({ Code: '123456' })).body).toMatchObject({ code: 60200, status: 400 });
      expect((await verify.update(`VE${'0'.repeat(32)}`, { Status: 'pending' })).body.code).toBe(60200);
    });

    test('with the default limits: a resend too soon is 429 20429 with Retry-After, another country 403 60410', async () => {
      const verify = await serviceOf(await newTenant({ limits: 'defaults' }));
      const to = `+91${uniqueIndianMobile()}`;
      expect((await verify.create({ To: to, Channel: 'sms' })).status).toBe(201);
      expect((await verify.create({ To: to, Channel: 'sms' })).body).toMatchObject({ code: 20429, status: 429 });
      expect((await verify.create({ To: `+1${uniqueUsMobile()}`, Channel: 'sms' })).body).toMatchObject({ code: 60410, status: 403 });
    });
  });

  test('the limits: 429 resend_too_soon with Retry-After and 403 country_not_allowed, as documented', async () => {
    const limited = await newTenant({ limits: 'defaults' });
    const post = (action: string, body: unknown) => send('POST', `/auth/${limited.projectId}/${limited.environment}/${action}`, { body, headers: { 'APP-KEY': limited.appKey } });
    const mobile = uniqueIndianMobile();
    expect((await post('mobile-otp-signup', { mobile })).status).toBe(201);
    const again = await post('mobile-otp-login', { mobile });
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await post('mobile-otp-signup', { country_code: '+1', mobile: uniqueUsMobile() })).body.error.code).toBe('country_not_allowed');
  });

  test('together the flows checked a success answer of every route in lib/routes.ts, and errors of every style', () => {
    expect([...successes].sort()).toEqual(routes.map((route) => route.id).sort());
    const stylesWithErrors = new Set([...errorsSeen].map((seen) => described.find((entry) => entry.route.id === seen.split(' ')[0])!.style.tag.name));
    expect(stylesWithErrors.size).toBe(new Set(described.map((entry) => entry.style.tag.name)).size);
  });
});

const get = (path: string, host: string) =>
  new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: api.port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });

describe('GET /_dev/openapi.json', () => {
  test('serves the document of the running code, with this stack as its (relative) server', async () => {
    const res = await get('/_dev/openapi.json', `localhost:${api.port}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    const served = JSON.parse(res.body) as Body;
    expect(served.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    const { servers: _served, ...rest } = served;
    const { servers: _built, ...built } = buildOpenApiDocument();
    expect(rest).toEqual(built);
    // And so, with openapi.json current (test/unit/openapi.test.ts), what the repository holds.
    const { servers: _committed, ...committed } = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8')) as Body;
    expect(rest).toEqual(committed);
  });

  test('answers loopback Host names only, like every /_dev/ route', async () => {
    const res = await get('/_dev/openapi.json', 'evil.example');
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error.code).toBe('forbidden_host');
  });
});
