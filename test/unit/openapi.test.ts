import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import * as v from 'valibot';
import { errors } from '#core/errors';
import { coreErrorFormat } from '#core/http/route';
import { buildOpenApiDocument, describeRoutes, documentedErrors, narrowing, packageVersion, renderOpenApi } from '#core/openapi/document';
import { requestJsonSchema, responseJsonSchema } from '#core/openapi/json-schema';
import { checkedInCode, coreErrorBody, type StyleDoc } from '#core/openapi/operations';
import { styleDocs } from '#core/openapi/styles';
import { TWILIO_ERRORS } from '#core/styles/twilio-verify';
import { routes, type Route } from '#lib/routes';

/**
 * The OpenAPI document: complete (every route, every error a route's style answers), valid
 * OpenAPI 3.1 in structure, its examples valid against its own schemas, and the committed
 * openapi.json exactly what `npm run openapi` writes today.
 */

type Json = Record<string, any>;
const document = buildOpenApiDocument() as Json;
const operations = Object.entries(document.paths as Json).flatMap(([path, item]) =>
  Object.entries(item as Json).map(([method, operation]) => ({ path, method, operation: operation as Json })),
);

describe('every route, described once', () => {
  test('every route of lib/routes.ts is an operation of the document, under its path and method, and nothing else is', () => {
    const documented = operations.map(({ path, method, operation }) => `${operation.operationId} ${method.toUpperCase()} ${path}`).sort();
    expect(documented).toEqual(routes.map((route) => `${route.id} ${route.method} ${route.path}`).sort());
  });

  test('a route no style describes fails the build, naming the route and where to describe it', () => {
    const extra: Route = { id: 'PasskeyRegister', method: 'POST', path: '/auth/{projectId}/{environment}/passkey/register', entry: 'functions/x.ts', needs: [] };
    expect(() => buildOpenApiDocument({ routes: [...routes, extra] })).toThrow(
      /route PasskeyRegister \(POST \/auth\/\{projectId\}\/\{environment\}\/passkey\/register\) has no OpenAPI operation: describe it in its style's \*-openapi\.ts/,
    );
  });

  test('an operation that names no route fails the build', () => {
    expect(() => describeRoutes(routes.filter((route) => route.id !== 'Logout'))).toThrow(/the OpenAPI operation Logout names no route/);
  });

  test('a route described by two styles fails the build', () => {
    expect(() => describeRoutes(routes, [...styleDocs, styleDocs[0]!])).toThrow(/route MobileOtpSignup is described by both/);
  });
});

describe('openapi.json', () => {
  test('the committed file is what npm run openapi writes now', () => {
    const committed = readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8');
    if (committed !== renderOpenApi()) throw new Error('openapi.json is stale: run npm run openapi (and commit the file)');
  });

  test('is pretty-printed, ends with a newline, and comes out the same on every build', () => {
    const text = renderOpenApi();
    expect(text).toBe(renderOpenApi(buildOpenApiDocument()));
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n')[1]).toBe('  "openapi": "3.1.0",');
    // Sorted maps: a reordered route table or style module does not reorder the file.
    const sorted = (keys: string[]) => [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(Object.keys(document.paths)).toEqual(sorted(Object.keys(document.paths)));
    expect(Object.keys(document.components.schemas)).toEqual(sorted(Object.keys(document.components.schemas)));
    for (const { operation } of operations) {
      const statuses = Object.keys(operation.responses).map(Number);
      expect(statuses).toEqual([...statuses].sort((a, b) => a - b));
    }
  });

  test("info.version is package.json's", () => {
    expect(document.info.version).toBe(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
    expect(packageVersion()).toBe(document.info.version);
  });
});

/** Resolves a local JSON pointer (`#/components/schemas/X`) in the document. */
const resolve = (ref: string): unknown => {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (typeof node === 'object' && node !== null ? (node as Json)[key] : undefined), document);
};

const walk = (node: unknown, visit: (value: Json, at: string) => void, at = '#'): void => {
  if (Array.isArray(node)) node.forEach((item, i) => walk(item, visit, `${at}/${i}`));
  else if (typeof node === 'object' && node !== null) {
    visit(node as Json, at);
    for (const [key, value] of Object.entries(node)) walk(value, visit, `${at}/${key}`);
  }
};

/**
 * A JSON Schema checker for the keywords the document uses. An unknown keyword fails, so a
 * keyword the converter starts emitting cannot be skipped silently.
 */
const annotations = new Set(['description', 'title', 'format', 'examples']);
const validate = (schema: Json, value: unknown, at = '$'): string[] => {
  const problems: string[] = [];
  const typeOf = (x: unknown) => (x === null ? 'null' : Array.isArray(x) ? 'array' : Number.isInteger(x) ? 'integer' : typeof x);
  for (const [keyword, expected] of Object.entries(schema)) {
    if (annotations.has(keyword)) continue;
    switch (keyword) {
      case '$ref':
        problems.push(...validate(resolve(expected) as Json, value, at));
        break;
      case 'type': {
        const actual = typeOf(value);
        const types = Array.isArray(expected) ? expected : [expected];
        if (!types.includes(actual) && !(actual === 'integer' && types.includes('number'))) problems.push(`${at}: ${actual} is not ${types.join('|')}`);
        break;
      }
      case 'properties':
        if (typeOf(value) === 'object') {
          for (const [name, sub] of Object.entries(expected as Json)) {
            if (Object.hasOwn(value as object, name)) problems.push(...validate(sub, (value as Json)[name], `${at}.${name}`));
          }
        }
        break;
      case 'required':
        if (typeOf(value) === 'object') for (const name of expected as string[]) if (!Object.hasOwn(value as object, name)) problems.push(`${at}: ${name} is missing`);
        break;
      case 'additionalProperties':
        if (expected === false && typeOf(value) === 'object') {
          for (const name of Object.keys(value as object)) if (!Object.hasOwn(schema.properties ?? {}, name)) problems.push(`${at}: ${name} is not allowed`);
        }
        break;
      case 'items':
        if (Array.isArray(value)) value.forEach((item, i) => problems.push(...validate(expected, item, `${at}[${i}]`)));
        break;
      case 'enum':
        if (!(expected as unknown[]).includes(value)) problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(expected)}`);
        break;
      case 'const':
        if (value !== expected) problems.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(expected)}`);
        break;
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(expected, 'u').test(value)) problems.push(`${at}: ${value} does not match ${expected}`);
        break;
      case 'minimum':
        if (typeof value === 'number' && value < expected) problems.push(`${at}: ${value} < ${expected}`);
        break;
      case 'minLength':
        if (typeof value === 'string' && value.length < expected) problems.push(`${at}: shorter than ${expected}`);
        break;
      case 'maxLength':
        if (typeof value === 'string' && value.length > expected) problems.push(`${at}: longer than ${expected}`);
        break;
      case 'minItems':
        if (Array.isArray(value) && value.length < expected) problems.push(`${at}: fewer than ${expected} items`);
        break;
      case 'allOf':
        for (const sub of expected as Json[]) problems.push(...validate(sub, value, at));
        break;
      case 'anyOf':
        if (!(expected as Json[]).some((sub) => validate(sub, value, at).length === 0)) problems.push(`${at}: matches none of anyOf`);
        break;
      default:
        problems.push(`${at}: the test's checker does not know the keyword ${keyword}`);
    }
  }
  return problems;
};

describe('valid OpenAPI 3.1 in structure', () => {
  const methods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

  test('the root has openapi 3.1.0, info, servers, paths and components', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toEqual(expect.objectContaining({ title: 'otpgate', version: expect.any(String), license: { name: 'MIT', identifier: 'MIT' } }));
    expect(document.servers.length).toBeGreaterThan(0);
    for (const server of document.servers) {
      for (const name of (server.url as string).match(/\{(\w+)\}/g) ?? []) expect(server.variables[name.slice(1, -1)].default).toEqual(expect.any(String));
    }
  });

  test('every operation has a unique operationId, a known tag, a summary, a 2xx and described responses', () => {
    const tags = new Set((document.tags as Json[]).map((tag) => tag.name));
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, method, operation } of operations) {
      expect(path.startsWith('/')).toBe(true);
      expect(methods.has(method)).toBe(true);
      expect(operation.summary).toEqual(expect.any(String));
      for (const tag of operation.tags) expect(tags.has(tag)).toBe(true);
      const statuses = Object.keys(operation.responses);
      expect(statuses.some((status) => /^2\d\d$/.test(status))).toBe(true);
      for (const [status, response] of Object.entries(operation.responses as Json)) {
        expect(status).toMatch(/^[1-5]\d\d$/);
        expect(response.description).toEqual(expect.any(String));
        expect(Object.keys(response.content)).toEqual(['application/json']);
        expect(response.content['application/json'].schema).toEqual(expect.any(Object));
      }
    }
  });

  test('every {parameter} of a path is declared as a required path parameter, and only those', () => {
    for (const { path, operation } of operations) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
      const declared = (operation.parameters ?? []).filter((p: Json) => p.in === 'path');
      expect(declared.map((p: Json) => p.name)).toEqual(inPath);
      for (const parameter of declared) {
        expect(parameter).toMatchObject({ required: true, description: expect.any(String), schema: expect.any(Object) });
        if (parameter.example !== undefined) expect(validate(parameter.schema, parameter.example)).toEqual([]);
      }
    }
  });

  test('every $ref resolves, and every component schema is used', () => {
    const refs = new Set<string>();
    walk(document, (node, at) => {
      if (typeof node.$ref === 'string') {
        expect({ at, resolved: resolve(node.$ref) !== undefined }).toEqual({ at, resolved: true });
        refs.add(node.$ref);
      }
    });
    for (const name of Object.keys(document.components.schemas)) expect(refs).toContain(`#/components/schemas/${name}`);
  });

  test('every security requirement names a defined scheme; public routes say so with an empty list', () => {
    const schemes = document.components.securitySchemes as Json;
    for (const scheme of Object.values(schemes)) expect(['apiKey', 'http', 'oauth2', 'openIdConnect', 'mutualTLS']).toContain(scheme.type);
    for (const { operation } of operations) {
      expect(Array.isArray(operation.security)).toBe(true);
      for (const requirement of operation.security) for (const name of Object.keys(requirement)) expect(Object.keys(schemes)).toContain(name);
    }
    const publicIds = operations.filter(({ operation }) => operation.security.length === 0).map(({ operation }) => operation.operationId);
    expect(publicIds.sort()).toEqual(['Jwks', 'OpenidConfiguration']);
  });

  test('schemas are JSON Schema 2020-12 as OpenAPI 3.1 has it: no 3.0 "nullable", no stray $schema or $defs, required names real properties', () => {
    walk(document, (node, at) => {
      expect({ at, nullable: 'nullable' in node, $schema: '$schema' in node, $defs: '$defs' in node }).toEqual({ at, nullable: false, $schema: false, $defs: false });
      if (Array.isArray(node.required) && node.properties) for (const name of node.required) expect({ at, name, known: name in node.properties }).toEqual({ at, name, known: true });
    });
  });

  test("every example is valid against its response's schema in the document itself", () => {
    let count = 0;
    for (const { operation } of operations) {
      for (const [status, response] of Object.entries(operation.responses as Json)) {
        const media = response.content['application/json'];
        for (const [code, example] of Object.entries((media.examples ?? {}) as Json)) {
          expect({ route: operation.operationId, status, code, problems: validate(media.schema, example.value) }).toEqual({ route: operation.operationId, status, code, problems: [] });
          count += 1;
        }
      }
    }
    expect(count).toBeGreaterThan(100);
  });

  test("the checker above is not a pushover: a wrong code, a missing field or another status fails it", () => {
    const signup401 = document.paths['/auth/{projectId}/{environment}/mobile-otp-signup'].post.responses['401'].content['application/json'].schema;
    expect(validate(signup401, { error: { code: 'invalid_app_key', message: 'x' } })).toEqual([]);
    expect(validate(signup401, { error: { code: 'invalid_otp', message: 'x' } })).not.toEqual([]);
    expect(validate(signup401, { error: { code: 'invalid_app_key' } })).not.toEqual([]);
    const whatsapp403 = document.paths['/otp/{otpId}/verifyOTP'].post.responses['403'].content['application/json'].schema;
    const body = { timestamp: '2024-10-22T11:28:35.911Z', status: 403, error: 'Forbidden', code: 'invalid_otp', message: 'x', path: '/otp/x/verifyOTP' };
    expect(validate(whatsapp403, body)).toEqual([]);
    expect(validate(whatsapp403, { ...body, status: 401 })).not.toEqual([]);
  });
});

describe('every error, in each style\'s envelope', () => {
  const responsesOf = (id: string) => operations.find(({ operation }) => operation.operationId === id)!.operation.responses as Json;
  const codesAt = (id: string, status: number): string[] => Object.keys(responsesOf(id)[String(status)]?.content['application/json'].examples ?? {});

  test('every route documents 500 internal_error and 503 service_unavailable', () => {
    for (const { operation } of operations) {
      expect(codesAt(operation.operationId, 500)).toEqual(['internal_error']);
      // Twilio Verify answers a provider failure with its retryable 503 20503, not 502.
      expect(codesAt(operation.operationId, 503)).toEqual(operation.operationId === 'TwilioVerifyCreate' ? ['delivery_failed', 'service_unavailable'] : ['service_unavailable']);
    }
  });

  test('every route with a key documents 401 missing_app_key and invalid_app_key, and 400 invalid_request', () => {
    for (const { operation } of operations.filter(({ operation }) => operation.security.length > 0)) {
      expect(codesAt(operation.operationId, 401)).toEqual(expect.arrayContaining(['missing_app_key', 'invalid_app_key']));
      expect(codesAt(operation.operationId, 400)).toContain('invalid_request');
    }
  });

  test.each(['MobileOtpSignup', 'MobileOtpLogin', 'SendVerificationCode', 'WhatsappSendOtp'])(
    '%s (sends to a phone) documents the limits: 429 with Retry-After, 403 country_not_allowed, 502 delivery_failed',
    (id) => {
      expect(codesAt(id, 429)).toEqual(expect.arrayContaining(['resend_too_soon', 'too_many_requests', 'budget_exceeded']));
      expect(responsesOf(id)['429'].headers['Retry-After']).toMatchObject({ schema: { type: 'integer', minimum: 1 } });
      expect(codesAt(id, 403)).toContain('country_not_allowed');
      expect(codesAt(id, 502)).toEqual(['delivery_failed']);
    },
  );

  test('email sends are not spend-capped, so they do not document budget_exceeded', () => {
    expect(codesAt('EmailOtpSignup', 429)).toEqual(['resend_too_soon', 'too_many_requests']);
  });

  test("each style's envelope and statuses are its own, made by its formatter", () => {
    expect(responsesOf('MobileOtpVerify')['401'].content['application/json'].examples.invalid_otp.value).toEqual({
      error: { code: 'invalid_otp', message: 'The code is not correct.', field: 'otp_code', attempts_remaining: 4 },
    });
    expect(responsesOf('UserAuthenticate')['401'].content['application/json'].examples.invalid_otp.value).toEqual({
      status: 'error',
      traceId: expect.any(String),
      error: { code: 'invalid_otp', message: 'The code is not correct.', field: 'verificationCode', attemptsRemaining: 4 },
    });
    // The WhatsApp document answers a wrong code with 403 and an unknown id with 404.
    expect(codesAt('WhatsappVerifyOtp', 403)).toContain('invalid_otp');
    expect(codesAt('WhatsappVerifyOtp', 404)).toEqual(['no_pending_otp']);
    expect(codesAt('WhatsappVerifyOtp', 401)).not.toContain('invalid_otp');
    expect(responsesOf('WhatsappVerifyOtp')['403'].content['application/json'].examples.invalid_otp.value).toMatchObject({ status: 403, error: 'Forbidden', code: 'invalid_otp', attemptsRemaining: 4 });
  });

  test("a style whose envelope schema does not match its formatter's answers fails the build", () => {
    const drifted: StyleDoc = {
      ...styleDocs[0]!,
      // Claims a top-level code, as if the core shape had changed.
      errorBody: () => v.strictObject({ code: v.string(), message: v.string() }),
    };
    expect(() => buildOpenApiDocument({ styles: [drifted, ...styleDocs.slice(1)] })).toThrow(/answers missing_app_key with a body its errorBody schema refuses/);
  });
});

describe('the valibot to JSON Schema conversion (functions/core/openapi/json-schema.ts)', () => {
  test('request bodies are what a client sends: an integer accepted before a transform is documented as an integer', () => {
    const text = v.union([v.string(), v.pipe(v.number(), v.integer(), v.transform(String))]);
    expect(requestJsonSchema(v.object({ mobile: text }))).toEqual({
      type: 'object',
      properties: { mobile: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
      required: ['mobile'],
    });
  });

  test('trim, which the converter refuses, documents the rules after it with a note', () => {
    expect(requestJsonSchema(v.pipe(v.string(), v.trim(), v.regex(/^[0-9]+$/)))).toEqual({ type: 'string', description: 'Surrounding whitespace is ignored.', pattern: '^[0-9]+$' });
  });

  test('responses are strict for the tests but open in the document', () => {
    const schema = v.strictObject({ a: v.string(), b: v.strictObject({ c: v.optional(v.number()) }) });
    expect(() => v.parse(schema, { a: 'x', b: {}, extra: 1 })).toThrow();
    expect(responseJsonSchema(schema)).toEqual({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'object', properties: { c: { type: 'number' } } } }, required: ['a', 'b'] });
  });

  test('what cannot be expressed fails loudly, naming where to handle it', () => {
    expect(() => requestJsonSchema(v.object({ name: v.pipe(v.string(), v.check((s) => s.length > 1)) }))).toThrow(/"check" action .*handle it in functions\/core\/openapi\/json-schema\.ts/);
    expect(() => requestJsonSchema(v.pipe(v.string(), v.toLowerCase()))).toThrow(/to_lower_case.*json-schema\.ts/);
    expect(() => responseJsonSchema(v.object({ at: v.date() }))).toThrow(/"date" schema/);
    expect(() => responseJsonSchema(v.object({ a: v.lazy(() => v.string()) }))).toThrow(/recursive schemas/);
  });

  test('a property named like a keyword stays a property', () => {
    expect(requestJsonSchema(v.object({ definitions: v.string(), required: v.string() }))).toEqual({
      type: 'object',
      properties: { definitions: { type: 'string' }, required: { type: 'string' } },
      required: ['definitions', 'required'],
    });
  });

  test('checkedInCode refines only fields the schema has', () => {
    const body = v.object({ code: v.unknown() });
    expect(requestJsonSchema(checkedInCode(body, { code: v.string() }))).toEqual({ type: 'object', properties: { code: { type: 'string' } }, required: ['code'] });
    expect(() => checkedInCode(body, { kode: v.string() } as never)).toThrow(/names "kode", which the schema does not have/);
  });

  test("a response's narrowing is only what differs from the envelope", () => {
    const envelope = responseJsonSchema(coreErrorBody());
    const narrowed = responseJsonSchema(coreErrorBody({ codes: ['a', 'b'] }));
    expect(narrowing(envelope, narrowed)).toEqual({ properties: { error: { properties: { code: { enum: ['a', 'b'], type: 'string' } } } } });
    expect(narrowing(envelope, envelope)).toBeUndefined();
  });
});

test('a new style slots in with one module: its own route, security scheme, form body and envelope', () => {
  const route: Route = { id: 'VerifyCheck', method: 'POST', path: '/v2/Services/{serviceSid}/VerificationCheck', entry: 'functions/x.ts', needs: [] };
  const style: StyleDoc = {
    tag: { name: 'Verify', description: 'A form-encoded style.' },
    securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } },
    errorSchemaName: 'CoreError',
    formatError: coreErrorFormat,
    errorBody: coreErrorBody,
    operations: {
      VerifyCheck: {
        summary: 'Check a code',
        security: ['basicAuth'],
        pathParameters: { serviceSid: { description: 'The service.', schema: v.pipe(v.string(), v.startsWith('VA')), example: 'VA0123' } },
        requestBody: { schema: v.object({ To: v.string(), Code: v.string() }), contentType: 'application/x-www-form-urlencoded' },
        responses: { 200: { description: 'Checked.', schema: v.strictObject({ status: v.picklist(['approved', 'pending']) }) } },
        errors: ['invalidOtp'],
      },
    },
  };
  const built = buildOpenApiDocument({ routes: [...routes, route], styles: [...styleDocs, style] }) as Json;
  const operation = built.paths['/v2/Services/{serviceSid}/VerificationCheck'].post;
  expect(operation).toMatchObject({
    operationId: 'VerifyCheck',
    tags: ['Verify'],
    security: [{ basicAuth: [] }],
    parameters: [{ name: 'serviceSid', in: 'path', required: true, schema: { type: 'string', pattern: '^VA' } }],
    requestBody: { content: { 'application/x-www-form-urlencoded': { schema: { $ref: '#/components/schemas/VerifyCheckRequest' } } } },
  });
  expect(Object.keys(operation.responses)).toEqual(['200', '401', '500', '503']);
  expect(built.components.securitySchemes.basicAuth).toEqual({ type: 'http', scheme: 'basic' });

  // A style that forgets a path parameter, or names an unknown scheme, is told so.
  const { pathParameters: _, ...withoutParameter } = style.operations.VerifyCheck!;
  expect(() => buildOpenApiDocument({ routes: [...routes, route], styles: [...styleDocs, { ...style, operations: { VerifyCheck: withoutParameter } }] })).toThrow(
    /path parameter \{serviceSid\}, which its operation does not describe/,
  );
  expect(() =>
    buildOpenApiDocument({ routes: [...routes, route], styles: [...styleDocs, { ...style, securitySchemes: {} }] }),
  ).toThrow(/security scheme basicAuth, which no style defines/);
});

describe('Twilio Verify: form bodies, Basic auth, and errors with the codes of its error table', () => {
  const verifyOps = operations.filter(({ path }) => path.startsWith('/v2/Services/{ServiceSid}/'));
  const enumAt = (id: string, status: number): number[] => {
    const schema = verifyOps.find(({ operation }) => operation.operationId === id)!.operation.responses[String(status)].content['application/json'].schema;
    return schema.allOf[1].properties.code.enum;
  };

  test('the four routes, form-encoded where they take a body, behind HTTP Basic', () => {
    expect(verifyOps.map(({ method, path }) => `${method.toUpperCase()} ${path}`).sort()).toEqual([
      'GET /v2/Services/{ServiceSid}/Verifications/{Sid}',
      'POST /v2/Services/{ServiceSid}/VerificationCheck',
      'POST /v2/Services/{ServiceSid}/Verifications',
      'POST /v2/Services/{ServiceSid}/Verifications/{Sid}',
    ]);
    expect(document.components.securitySchemes.twilioBasicAuth).toMatchObject({ type: 'http', scheme: 'basic' });
    for (const { method, operation } of verifyOps) {
      expect(operation.security).toEqual([{ twilioBasicAuth: [] }]);
      if (method === 'post') expect(Object.keys(operation.requestBody.content)).toEqual(['application/x-www-form-urlencoded']);
    }
    const create = document.components.schemas.TwilioVerifyCreateRequest;
    expect(create.required).toEqual(['To', 'Channel']);
    expect(create.properties.Channel.enum).toEqual(['sms', 'whatsapp', 'email']);
    expect(create.properties.DeviceIp.anyOf).toEqual([{ format: 'ipv4' }, { format: 'ipv6' }]);
    expect(document.components.schemas.TwilioVerifyUpdateRequest.properties.Status.enum).toEqual(['canceled', 'approved']);
  });

  test("every error is Twilio's shape with a Twilio code, never an otpgate code, and its status repeated in the body", () => {
    for (const { operation } of verifyOps) {
      for (const [status, response] of Object.entries(operation.responses as Json)) {
        if (Number(status) < 400) continue;
        for (const example of Object.values(response.content['application/json'].examples as Json)) {
          expect(example.value).toEqual({ code: expect.any(Number), message: expect.any(String), more_info: `https://www.twilio.com/docs/errors/${example.value.code}`, status: Number(status) });
          expect(enumAt(operation.operationId, Number(status))).toContain(example.value.code);
        }
      }
    }
  });

  test('each status lists the Twilio codes its otpgate errors map to, including the refused-number and per-IP answers', () => {
    expect(enumAt('TwilioVerifyCreate', 400).sort()).toEqual([60200, 60205, 60223]);
    expect(enumAt('TwilioVerifyCreate', 403).sort()).toEqual([60204, 60410, 60605]);
    expect(enumAt('TwilioVerifyCreate', 429).sort()).toEqual([20429, 60203, 60212]);
    expect(enumAt('TwilioVerifyCreate', 503)).toEqual([20503]);
    expect(enumAt('TwilioVerifyCheck', 404)).toEqual([20404]);
    expect(enumAt('TwilioVerifyCheck', 429)).toEqual([60202]);
    for (const { operation } of verifyOps) {
      expect(enumAt(operation.operationId, 401)).toEqual([20003]);
      expect(enumAt(operation.operationId, 500)).toEqual([20500]);
      if (operation.operationId !== 'TwilioVerifyCreate') expect(enumAt(operation.operationId, 404)).toEqual([20404]);
    }
    // Together the routes document every code of the style's error table.
    const documented = new Set(verifyOps.flatMap(({ operation }) => Object.keys(operation.responses).filter((s) => Number(s) >= 400).flatMap((s) => enumAt(operation.operationId, Number(s)))));
    for (const { code } of Object.values(TWILIO_ERRORS)) expect(documented).toContain(code);
    // A wrong code at a status fails the schema.
    const create400 = verifyOps.find(({ operation }) => operation.operationId === 'TwilioVerifyCreate')!.operation.responses['400'].content['application/json'].schema;
    const body = { code: 60223, message: 'x', more_info: 'https://www.twilio.com/docs/errors/60223', status: 400 };
    expect(validate(create400, body)).toEqual([]);
    expect(validate(create400, { ...body, code: 60202 })).not.toEqual([]);
    expect(validate(create400, { ...body, code: 'channel_disabled' })).not.toEqual([]);
  });
});

test('documentedErrors gives each error the status its style answers it with', () => {
  const whatsappVerify = describeRoutes().find((entry) => entry.route.id === 'WhatsappVerifyOtp')!;
  const byStatus = documentedErrors(whatsappVerify);
  expect(byStatus.get(403)?.map((e) => e.error.code)).toEqual(expect.arrayContaining(['invalid_otp']));
  expect(errors.invalidOtp(1).status).toBe(401);
});

test("no route's function bundles the document's code or @valibot/to-json-schema (a devDependency)", async () => {
  const result = await build({
    entryPoints: routes.map((route) => route.entry),
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outdir: 'unused',
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs).toContain('functions/core/styles/mobile-email-schemas.ts');
  expect(inputs.filter((input) => /openapi/i.test(input))).toEqual([]);
  const packages = Object.values(result.metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path));
  expect(packages).toContain('valibot');
  expect(packages).not.toContain('@valibot/to-json-schema');
});
