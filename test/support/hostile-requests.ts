import fc from 'fast-check';
import { routes, type Route } from '#lib/routes';
import { isAnswer, type RawOutcome, type RawRequest } from './raw-http';

/**
 * Generated hostile requests over every route of every API style, and the rule every answer must
 * follow: a JSON answer under 500 (a 4xx error with a machine-readable code when it is an error),
 * with the security headers, without a stack trace, and in time. Requests are built byte by byte
 * (raw-http.ts): wrong types, missing and extra fields, huge and deeply nested bodies, non-JSON and
 * non-UTF-8 bodies, wrong content types, odd unicode, duplicated and oddly cased key headers,
 * traversal and encoded characters in path parameters, other methods.
 */

export interface FuzzTargets {
  readonly projectId: string;
  readonly environment: string;
  /** A valid key of that project and environment, and one of another project. */
  readonly appKey: string;
  readonly otherKey: string;
  readonly whatsappConfigUid: string;
}

/** Every byte of the UTF-8 encoding percent-encoded (encodeURIComponent throws on lone surrogates). */
const percentEncode = (text: string) => [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');

const oddStrings = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  '\u202e9876543211',
  '９８７６５４３２１１',
  '٩٨٧٦٥٤٣٢١١',
  '98765\u200b43211',
  'a\u0301\u0301\u0301',
  '😀😀😀',
  '<script>alert(1)</script>',
  '${jndi:ldap://127.0.0.1/a}',
  '../../etc/passwd',
  '%00',
  '1e309',
  '-0',
  'NaN',
  '__proto__',
  '+919876543211',
  '9876543211',
  'a@b.c',
  'user@example.com',
  '000000',
  '123456',
  'x'.repeat(5_000),
];

export const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.stringMatching(/^\+?[0-9 ().\u2010-\u2015-]{0,20}$/),
  fc.constantFrom(...oddStrings),
);

export const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: anyText },
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

/** The fields each route reads (the seeds' names), so that most bodies are "almost right". */
const fieldsOf = (route: Route): string[] => {
  const name = route.path.split('/').pop() ?? '';
  if (name.startsWith('mobile-otp')) return ['mobile', 'country_code', 'otp_code'];
  if (name.startsWith('email-otp')) return ['email', 'otp_code'];
  if (name === 'send-verification-code') return ['phoneNumber'];
  if (name === 'authenticate') return ['idType', 'phoneNumber', 'verificationCode', 'verificationId'];
  if (name === 'sendOTP') return ['name', 'mobileNumber', 'countryCode'];
  if (name === 'verifyOTP') return ['otp', 'mobileNumber', 'countryCode'];
  if (name === 'refresh') return ['refresh_token'];
  if (name === 'logout') return ['all'];
  return ['x'];
};

const nested = (depth: number, kind: 'array' | 'object') => (kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);

export const bodyFor = (route: Route): fc.Arbitrary<Buffer | string | undefined> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record(Object.fromEntries(fieldsOf(route).map((f) => [f, fieldValue])), { requiredKeys: [] }).map((o) => JSON.stringify(o)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.record(Object.fromEntries(fieldsOf(route).map((f) => [f, fieldValue])), { requiredKeys: [] }), fc.dictionary(fc.string({ maxLength: 12 }), fieldValue, { maxKeys: 6 }))
        // Keys that poison prototypes when a parser or a merge is careless.
        .map(([known, extra]) => {
          const rest = JSON.stringify({ ...extra, ...known }).slice(1, -1);
          return `{"__proto__":{"admin":true},"constructor":{"prototype":1}${rest === '' ? '' : `,${rest}`}}`;
        }),
    },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 50, max: 50_000 }), fc.constantFrom('array' as const, 'object' as const)).map(([d, k]) => nested(d, k)) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', 'null', 'true', '"text"', '[1,2]', '{', '{"mobile":', '{"a":1}}', 'mobile=9876543211', '<xml/>', '\u0000') },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
    // Just under and over the local server's 64 kB limit (API Gateway's is larger; the function sees the body either way).
    { weight: 1, arbitrary: fc.constantFrom(60_000, 70_000, 300_000).map((n) => JSON.stringify({ mobile: '9'.repeat(n) })) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

const KEY_NAMES = ['APP-KEY', 'app-key', 'App-Key', 'aPp-KeY', 'x-api-key', 'X-API-KEY', 'X-Api-Key'];
/** Header values: anything a header may carry (no CR or LF: those would be a second request, not a header). */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 60 });

export const keyHeaders = (targets: FuzzTargets): fc.Arbitrary<[string, string][]> => {
  const value = fc.oneof(
    { weight: 8, arbitrary: fc.constant(targets.appKey) },
    fc.constant(targets.otherKey),
    fc.constant(` ${targets.appKey} `),
    fc.constant(targets.appKey.toUpperCase()),
    fc.constant(`og_${'A'.repeat(43)}`),
    fc.constantFrom('', '   ', 'null', 'x'.repeat(8_000)),
    headerText,
  );
  return fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...KEY_NAMES), value).map(([n, v]) => [[n, v]] as [string, string][]) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...KEY_NAMES), value, fc.constantFrom(...KEY_NAMES), value).map(([n1, v1, n2, v2]) => [[n1, v1], [n2, v2]] as [string, string][]) },
    { weight: 1, arbitrary: fc.constant([] as [string, string][]) },
  );
};

const contentType = fc.option(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'application/json; charset=utf-16',
    '*/*',
    '',
  ),
  { freq: 5 },
);

export const extraHeaders = fc.array(
  fc.oneof(
    fc.constant(['X-Forwarded-For', '203.0.113.9, 10.0.0.1'] as [string, string]),
    fc.constant(['Authorization', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'] as [string, string]),
    fc.tuple(fc.constant('Authorization'), headerText).map(([n, v]) => [n, v] as [string, string]),
    fc.constant(['Accept', '*/*'] as [string, string]),
    fc.constant(['Accept-Encoding', 'gzip, br'] as [string, string]),
    fc.constant(['Content-Type', 'text/plain'] as [string, string]),
    fc.constant(['Origin', 'https://evil.example'] as [string, string]),
    fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/), headerText).map(([n, v]) => [n, v] as [string, string]),
  ),
  { maxLength: 3 },
);

/** A path parameter: a real one, or something hostile, raw or percent-encoded. */
export const pathParam = (real: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...real) },
    fc.constantFrom('..', '.', '%2e%2e', '%2E%2E%2F%2E%2E', '..%2F..%2Fetc%2Fpasswd', '%00', '%', '%zz', '%2F', 'a%2Fb', '..;', '~', 'UPPER', 'has#hash'),
    fc.string({ unit: 'binary', maxLength: 30 }).map(percentEncode),
    fc.stringMatching(/^[a-z0-9-]{1,80}$/),
    fc.integer({ min: 64, max: 3_000 }).map((n) => 'p'.repeat(n)),
    fc.uuid().map((u) => u.toUpperCase()),
  );

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

/** One hostile request for one of the route table's routes (or a path near them). Built once: arbitraries are costly to make. */
export const hostileRequest = (targets: FuzzTargets): fc.Arbitrary<RawRequest> =>
  fc.oneof(
    ...routes.map((route) =>
      fc
        .record({
          method: fc.oneof({ weight: 6, arbitrary: fc.constant(route.method) }, fc.constantFrom(...METHODS)),
          projectId: pathParam([targets.projectId]),
          environment: pathParam([targets.environment]),
          otpId: pathParam([targets.whatsappConfigUid, '00000000-0000-4000-8000-000000000000']),
          suffix: fc.constantFrom('', '', '', '/', '?a=1&a=2', '//', '/..', '?mobile=1', '#frag', '%20'),
          keys: keyHeaders(targets),
          contentType,
          extra: extraHeaders,
          body: bodyFor(route),
        })
        .map(({ method, projectId, environment, otpId, suffix, keys, contentType: type, extra, body }) => {
          const target = route.path.replace('{projectId}', projectId).replace('{environment}', environment).replace('{otpId}', otpId) + suffix;
          const headers: [string, string][] = [['Host', '127.0.0.1'], ...keys, ...(type === null ? [] : [['Content-Type', type] as [string, string]]), ...extra];
          return { method, target, headers, ...(body === undefined ? {} : { body }) };
        }),
    ),
  );

const STACK_TRACE = /\n\s+at |\bat [\w.<>$]+ \(|\.ts:\d+:\d+|node_modules\//;

/** What is wrong with an answer to a hostile request; nothing when it is as it must be. */
export const problemsWith = (request: RawRequest, outcome: RawOutcome): string[] => {
  if (!isAnswer(outcome)) return [`${outcome.failure} (${Math.round(outcome.ms)} ms): ${outcome.raw.slice(0, 200)}`];
  const problems: string[] = [];
  if (outcome.status >= 500) problems.push(`status ${outcome.status}: ${outcome.body.slice(0, 300)}`);
  const hasBody = request.method !== 'HEAD' && outcome.status !== 204;
  if (hasBody) {
    if (!/^application\/json/.test(outcome.headers['content-type'] ?? '')) problems.push(`content-type ${outcome.headers['content-type']}`);
    let json: any;
    try {
      json = JSON.parse(outcome.body);
    } catch {
      problems.push(`body is not JSON: ${outcome.body.slice(0, 100)}`);
    }
    // Every style's envelope names the error: {error:{code}} (mobile/email, WhatsApp), {code:'…'} (verification-id), Twilio's {code: 20404, status} (Verify).
    const named = typeof json?.error?.code === 'string' || typeof json?.code === 'string' || (typeof json?.code === 'number' && json?.status === outcome.status);
    if (outcome.status >= 400 && json !== undefined && !named) problems.push(`an error without a code: ${outcome.body.slice(0, 200)}`);
    if (outcome.headers['x-content-type-options'] !== 'nosniff') problems.push('no x-content-type-options: nosniff');
    if (!outcome.headers['cache-control']?.includes('no-store') && !outcome.headers['cache-control']?.includes('max-age')) problems.push('no cache-control');
  }
  if (STACK_TRACE.test(outcome.body)) problems.push(`a stack trace: ${outcome.body.slice(0, 300)}`);
  return problems;
};

export const describeRequest = (request: RawRequest): string => {
  const body = request.body === undefined ? '' : Buffer.isBuffer(request.body) ? `<${request.body.length} bytes>` : request.body.slice(0, 200);
  return `${request.method} ${request.target.slice(0, 200)} ${JSON.stringify(request.headers.map(([n, v]) => `${n}: ${v.slice(0, 40)}`))} ${body}`;
};
