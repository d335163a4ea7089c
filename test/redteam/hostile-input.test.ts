import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import fc from 'fast-check';
import { handler as jwks } from '../../functions/jwks';
import { handler as openid } from '../../functions/openid-configuration';
import { event, newTenant, type Handler, type TestTenant } from '../support/harness';
import { call, clocked, keyEvent, type Clocked } from './support';

/**
 * Red team: every route of every style with hostile bodies, headers and paths. The promise: bad
 * input is a clear 4xx JSON error, never a 5xx, never a stack trace. FAILING tests are findings.
 */

jest.setTimeout(240_000);

let tenant: TestTenant;
let configUid: string;
let h: Clocked;

beforeAll(async () => {
  configUid = randomUUID();
  tenant = await newTenant({ settings: { whatsappConfigs: { [configUid]: { from: '+14155238886' } } } });
  h = clocked();
});

type Build = (body: string | undefined, extra?: { headers?: Record<string, string>; path?: Record<string, string>; base64?: boolean }) => APIGatewayProxyEventV2;

const tenantRoute = (): Build => (body, extra = {}) => {
  const ev = event(tenant, { ...(body === undefined ? {} : { rawBody: body }), appKey: tenant.appKey, headers: extra.headers ?? {} });
  return { ...ev, ...(extra.path ? { pathParameters: extra.path } : {}), isBase64Encoded: extra.base64 ?? false };
};
const keyRoute = (path: string, otpId?: string): Build => (body, extra = {}) => {
  const ev = keyEvent(path, body ?? '', tenant.appKey, otpId === undefined ? undefined : { otpId });
  const withBody = body === undefined ? { ...ev, body: undefined } : ev;
  return { ...withBody, headers: { ...ev.headers, ...extra.headers }, ...(extra.path ? { pathParameters: extra.path } : {}), isBase64Encoded: extra.base64 ?? false };
};

const routes = (): [string, () => Handler, Build, string[]][] => [
  ['mobile-otp-signup', () => h.mobileSignup, tenantRoute(), ['mobile', 'country_code']],
  ['mobile-otp-login', () => h.mobileLogin, tenantRoute(), ['mobile', 'country_code', 'otp_code']],
  ['mobile-otp-verify', () => h.mobileVerify, tenantRoute(), ['mobile', 'country_code', 'otp_code']],
  ['email-otp-signup', () => h.emailSignup, tenantRoute(), ['email']],
  ['email-otp-login', () => h.emailLogin, tenantRoute(), ['email', 'otp_code']],
  ['email-otp-verify', () => h.emailVerify, tenantRoute(), ['email', 'otp_code']],
  ['send-verification-code', () => h.v1Send, keyRoute('/v1/send-verification-code'), ['phoneNumber']],
  ['user/authenticate', () => h.v1Authenticate, keyRoute('/v1/user/authenticate'), ['idType', 'phoneNumber', 'verificationCode', 'verificationId']],
  ['sendOTP', () => h.waSend, keyRoute('/otp/x/sendOTP', configUid), ['name', 'mobileNumber', 'countryCode']],
  ['verifyOTP', () => h.waVerify, keyRoute(`/otp/x/verifyOTP`, randomUUID()), ['otp', 'mobileNumber', 'countryCode']],
  ['token/refresh', () => h.refresh, tenantRoute(), ['refresh_token']],
  ['logout', () => h.logout, tenantRoute(), ['all']],
];

const hostileValues: unknown[] = [
  null, true, false, 0, -0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 98765432110000000000000,
  '', ' ', '\u0000', '\uFEFF9876543211', '٩٨٧٦٥٤٣٢١١', '９８７６５４３２１１', '+91\u200B9876543211', '+91 98765 43211\u202E',
  '१२३४५६', '１２３４５６', '12345６', '𝟏𝟐𝟑𝟒𝟓𝟔', '123456\n', ' 123456 ', '0x1E240', '1e5', '-123456',
  'a'.repeat(70_000), '+'.repeat(5000), '9'.repeat(5000), '@'.repeat(300), `${'a'.repeat(64)}@${'b'.repeat(250)}.com`,
  'ſ@example.com', 'user@exampleſ.com', 'K@example.com', 'a@b.c', '"quoted"@example.com', 'user@[127.0.0.1]', 'user@localhost',
  '__proto__', 'constructor', 'toString', 'smsVerificationCode\u0000', 'SMSVERIFICATIONCODE',
  [], ['9876543211'], {}, { toString: 'x' }, { __proto__: { a: 1 } }, { length: 6 },
  'ogr_' + 'A'.repeat(43), 'ogr_' + '\u00e9'.repeat(43), '../../etc/passwd', '%00', '${jndi:ldap://x}', '<script>',
];

const raws: string[] = [
  '', ' ', 'null', '[]', '"x"', '123', 'true', '{', '{"mobile":', '{"mobile": 1e400}', '{"otp_code": 1e400, "mobile": "9876543211"}',
  '{"__proto__": {"mobile": "9876543211", "email": "a@example.com"}}', '{"constructor": {"prototype": {"mobile": "1"}}}',
  '['.repeat(20_000) + ']'.repeat(20_000), '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
  '{"mobile": "9876543211", "mobile": ["x"]}', '\uFEFF{"mobile":"9876543211"}', '{"mobile":"\\ud800"}', '{"email":"\\ud800@example.com"}',
];

interface Outcome { route: string; what: string; status: number; body: string }

const check = async (route: string, handler: Handler, ev: APIGatewayProxyEventV2, what: string, bad: Outcome[]) => {
  let status: number;
  let body: string;
  try {
    const res = await handler(ev, { getRemainingTimeInMillis: () => 300_000 } as never);
    status = res.statusCode ?? 200;
    body = res.body ?? '';
    try {
      JSON.parse(body);
    } catch {
      bad.push({ route, what: `${what} (not JSON)`, status, body: body.slice(0, 200) });
      return;
    }
  } catch (error) {
    bad.push({ route, what: `${what} (threw)`, status: -1, body: String(error).slice(0, 200) });
    return;
  }
  // 502 delivery_failed is the provider refusing a number that passed validation; reported separately.
  if (status >= 500 || /\bat [\w.<>]+ \(|node_modules|Error:/.test(body)) bad.push({ route, what, status, body: body.slice(0, 300) });
};

describe('every route, hostile input', () => {
  test('control: the detector reports a route that answers 500 or leaks a stack', async () => {
    const bad: Outcome[] = [];
    const broken: Handler = async () => ({ statusCode: 500, body: JSON.stringify({ error: { code: 'internal_error' } }) });
    const leaky: Handler = async () => ({ statusCode: 400, body: JSON.stringify({ message: 'TypeError: x\n    at parse (/var/task/index.mjs:1:2)' }) });
    await check('broken', broken, tenantRoute()('{}'), 'control', bad);
    await check('leaky', leaky, tenantRoute()('{}'), 'control', bad);
    expect(bad.map((b) => b.route)).toEqual(['broken', 'leaky']);
  });

  test('[holds] curated hostile values in every field of every route: never a 5xx, never a stack, always JSON', async () => {
    const bad: Outcome[] = [];
    for (const [name, handler, build, fields] of routes()) {
      for (const field of fields) {
        for (const value of hostileValues) {
          const body = JSON.stringify({ ...(name === 'user/authenticate' && field !== 'idType' ? { idType: 'smsVerificationCode' } : {}), [field]: value });
          await check(name, handler(), build(body), `${field}=${JSON.stringify(value)?.slice(0, 40)}`, bad);
        }
      }
      for (const raw of raws) await check(name, handler(), build(raw), `raw ${raw.slice(0, 40)}`, bad);
      await check(name, handler(), build(undefined), 'no body', bad);
      await check(name, handler(), build(Buffer.from([0xff, 0xfe, 0x7b]).toString('base64'), { base64: true }), 'base64 non-UTF-8', bad);
      await check(name, handler(), build('!!!not base64!!!', { base64: true }), 'bad base64', bad);
    }
    expect(bad).toEqual([]);
  });

  test('[holds] hostile headers and paths: never a 5xx', async () => {
    const bad: Outcome[] = [];
    const headerSets: Record<string, string>[] = [
      { 'app-key': '' }, { 'app-key': ' '.repeat(10) }, { 'app-key': 'x'.repeat(100_000) }, { 'app-key': '\u00e9\u0000' },
      { 'x-api-key': 'og_\uD800' }, { 'APP-KEY': tenant.appKey, 'app-key': 'wrong' }, { 'content-type': 'text/plain' },
      { authorization: 'Bearer ' + 'a'.repeat(50_000) }, { authorization: 'Bearer a.b.c' }, { authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' },
      { authorization: 'Basic Zm9vOmJhcg==' }, { authorization: 'Bearer  ' }, { Authorization: 'Bearer x', authorization: 'Bearer y' },
    ];
    const paths: Record<string, string>[] = [
      { projectId: 'x'.repeat(5000), environment: 'development' }, { projectId: tenant.projectId, environment: '\u0000' },
      { projectId: '../..', environment: '%2e%2e' }, { projectId: '__proto__', environment: 'constructor' }, {},
      { otpId: 'x'.repeat(5000) }, { otpId: configUid.toUpperCase() }, { otpId: '__proto__' }, { otpId: 'constructor' }, { otpId: '' },
    ];
    for (const [name, handler, build] of routes()) {
      for (const headers of headerSets) await check(name, handler(), build('{"mobile":"9876543211","all":true}', { headers }), `headers ${JSON.stringify(headers).slice(0, 60)}`, bad);
      for (const path of paths) await check(name, handler(), build('{"mobile":"9876543211"}', { path }), `path ${JSON.stringify(path).slice(0, 60)}`, bad);
    }
    for (const path of paths) {
      for (const [name, handler] of [['jwks', jwks], ['openid', openid]] as const) {
        await check(name, handler, { ...event(tenant, { method: 'GET' }), pathParameters: path }, `path ${JSON.stringify(path).slice(0, 60)}`, bad);
      }
    }
    expect(bad).toEqual([]);
  });

  test('[holds] random JSON objects over each route\'s own field names (fast-check): never a 5xx', async () => {
    const bad: Outcome[] = [];
    for (const [name, handler, build, fields] of routes()) {
      const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.stringMatching(/^\+?[0-9 ()-]{0,20}$/), fc.integer(), fc.double());
      await fc.assert(
        fc.asyncProperty(fc.dictionary(fc.constantFrom(...fields, '__proto__', 'constructor'), value, { maxKeys: 4 }), async (body) => {
          await check(name, handler(), build(JSON.stringify(body)), JSON.stringify(body).slice(0, 80), bad);
        }),
        { numRuns: 60, seed: 20_260_101 },
      );
    }
    expect(bad).toEqual([]);
  });
});
