import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import * as v from 'valibot';
import type { ApiError } from '#core/errors';
import type { HttpEvent } from '#core/http/route';
import { ALWAYS, sampleErrors } from '#core/openapi/error-catalogue';
import { requestJsonSchema, responseJsonSchema, type Json } from '#core/openapi/json-schema';
import type { ErrorName, OperationDoc, ParameterDoc, StyleDoc } from '#core/openapi/operations';
import { styleDocs } from '#core/openapi/styles';
import { NAME_PATTERN } from '#core/tenancy/projects';
import { routes as routeTable, type Route } from '#lib/routes';

/**
 * Builds the OpenAPI 3.1 document of every route in lib/routes.ts from the styles' operation
 * descriptions (functions/core/openapi/styles.ts). Nothing in it is written by hand: bodies come
 * from the handlers' valibot schemas, errors from functions/core/errors.ts passed through each
 * style's own formatter. The output is deterministic (paths, statuses and components sorted) so
 * the committed openapi.json can be compared with a fresh build.
 */

export interface DescribedRoute {
  readonly route: Route;
  readonly style: StyleDoc;
  readonly operation: OperationDoc;
}

/** Pairs every route with its operation; throws naming each route no style describes and each operation naming no route. */
export const describeRoutes = (routes: readonly Route[] = routeTable, styles: readonly StyleDoc[] = styleDocs): DescribedRoute[] => {
  const owners = new Map<string, StyleDoc>();
  const problems: string[] = [];
  for (const style of styles) {
    for (const id of Object.keys(style.operations)) {
      if (owners.has(id)) problems.push(`route ${id} is described by both "${owners.get(id)!.tag.name}" and "${style.tag.name}"`);
      owners.set(id, style);
    }
  }
  const described: DescribedRoute[] = [];
  for (const route of routes) {
    const style = owners.get(route.id);
    if (style === undefined) {
      problems.push(`route ${route.id} (${route.method} ${route.path}) has no OpenAPI operation: describe it in its style's *-openapi.ts module and list the style in functions/core/openapi/styles.ts`);
      continue;
    }
    described.push({ route, style, operation: style.operations[route.id]! });
  }
  const known = new Set(routes.map((route) => route.id));
  for (const id of owners.keys()) if (!known.has(id)) problems.push(`the OpenAPI operation ${id} names no route in lib/routes.ts`);
  if (problems.length > 0) throw new Error(`otpgate openapi:\n- ${problems.join('\n- ')}`);
  return described;
};

const tenantName = v.pipe(v.string(), v.regex(NAME_PATTERN));

/** Path parameters every tenant route shares; an operation describes any other itself. */
export const sharedPathParameters: Readonly<Record<string, ParameterDoc>> = {
  projectId: { description: 'The project id: lower-case letters, digits and dashes.', schema: tenantName, example: 'demo' },
  environment: { description: 'The environment of the project, e.g. development or production.', schema: tenantName, example: 'development' },
};

export const sharedSecuritySchemes: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  appKey: {
    type: 'apiKey',
    in: 'header',
    name: 'APP-KEY',
    description: 'An APP-KEY of the project and environment named in the path (a key of any other is 401 invalid_app_key).',
  },
  apiKey: {
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
    description: 'An APP-KEY sent as x-api-key (X-API-KEY in the WhatsApp document: header names are case-insensitive). The key alone picks the project and environment.',
  },
  bearerAccessToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token this project and environment issued, unexpired.',
  },
};

const pathParameterNames = (path: string): string[] => [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);

const parameterDoc = (route: Route, operation: OperationDoc, name: string): ParameterDoc => {
  const doc = operation.pathParameters?.[name] ?? sharedPathParameters[name];
  if (doc === undefined) throw new Error(`otpgate openapi: route ${route.id} has the path parameter {${name}}, which its operation does not describe (pathParameters)`);
  return doc;
};

/** The request a formatter sees when the document asks it for an example: fixed ids, so the document is stable. */
export const EXAMPLE_REQUEST_ID = '5f1d7c2a-0b8e-4d7e-9a55-3c2f0e1b8a41';

const exampleEvent = (route: Route, operation: OperationDoc): HttpEvent => {
  const path = route.path.replace(/\{(\w+)\}/g, (placeholder, name: string) => parameterDoc(route, operation, name).example ?? placeholder);
  return {
    version: '2.0',
    routeKey: `${route.method} ${route.path}`,
    rawPath: path,
    rawQueryString: '',
    headers: {},
    isBase64Encoded: false,
    requestContext: {
      accountId: 'example',
      apiId: 'example',
      domainName: 'example.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'example',
      http: { method: route.method, path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'example' },
      requestId: EXAMPLE_REQUEST_ID,
      routeKey: `${route.method} ${route.path}`,
      stage: '$default',
      time: 'Tue, 22 Oct 2024 11:28:35 GMT',
      timeEpoch: 1_729_596_515_911,
    },
  };
};

export interface DocumentedError {
  /** The key in errors.ts, or the code of a style's own error. */
  readonly name: string;
  readonly error: ApiError;
  /** The status and body the style answers the error with. */
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * The errors a route can answer, as its style's formatter answers them, by status. Each answer is
 * checked against the style's error envelope here, so an envelope that drifted from its formatter
 * fails the build of the document.
 */
export const documentedErrors = ({ route, style, operation }: DescribedRoute): Map<number, DocumentedError[]> => {
  const byStatus = new Map<number, DocumentedError[]>();
  const entries = [...new Set<ErrorName | ApiError>([...operation.errors, ...ALWAYS])];
  for (const entry of entries) {
    const error = typeof entry === 'string' ? sampleErrors[entry]() : entry;
    const name = typeof entry === 'string' ? entry : entry.code;
    const answer = style.formatError(error, exampleEvent(route, operation));
    const status = answer.statusCode ?? 200;
    const raw = JSON.parse(answer.body ?? 'null') as Record<string, unknown>;
    const body = style.stableExample ? style.stableExample(raw) : raw;
    const checked = v.safeParse(style.errorBody({ codes: [error.code], status }), body);
    if (!checked.success) {
      throw new Error(`otpgate openapi: "${style.tag.name}" answers ${error.code} with a body its errorBody schema refuses: ${v.summarize(checked.issues)}`);
    }
    const group = byStatus.get(status) ?? [];
    if (!group.some((known) => known.error.code === error.code)) group.push({ name, error, status, body });
    byStatus.set(status, group);
  }
  return byStatus;
};

const codesOf = (group: readonly DocumentedError[]): [string, ...string[]] => {
  const [first, ...rest] = group.map((documented) => documented.error.code);
  return [first!, ...rest];
};

type JsonObject = Record<string, unknown>;

class Components {
  readonly schemas = new Map<string, Json>();

  /** Registers a named schema; one name may be shared only by identical schemas. */
  add(name: string, schema: Json): JsonObject {
    const known = this.schemas.get(name);
    if (known !== undefined && JSON.stringify(known) !== JSON.stringify(schema)) {
      throw new Error(`otpgate openapi: two different schemas are both named ${name}`);
    }
    this.schemas.set(name, schema);
    return { $ref: `#/components/schemas/${name}` };
  }
}

/**
 * What a response's narrowed envelope adds to the style's envelope: only the subschemas that
 * differ (the code's enum, a status constant), so each response is `allOf: [envelope, overlay]`.
 */
export const narrowing = (envelope: Json, narrowed: Json): Json | undefined => {
  if (JSON.stringify(envelope) === JSON.stringify(narrowed)) return undefined;
  const { properties: envelopeProperties, ...envelopeRest } = envelope;
  const { properties: narrowedProperties, ...narrowedRest } = narrowed;
  if (envelopeProperties === undefined || narrowedProperties === undefined || JSON.stringify(envelopeRest) !== JSON.stringify(narrowedRest)) return narrowed;
  const properties: Record<string, Json> = {};
  for (const [name, schema] of Object.entries(narrowedProperties)) {
    const known = envelopeProperties[name];
    const difference = typeof known === 'object' && typeof schema === 'object' ? narrowing(known, schema) : schema === known ? undefined : (schema as Json);
    if (difference !== undefined) properties[name] = difference;
  }
  return { properties };
};

/** The `message` a client reads in a formatted error, wherever the style's envelope puts it. */
const messageIn = (body: Record<string, unknown>, fallback: string): string => {
  const nested = typeof body.error === 'object' && body.error !== null ? (body.error as Record<string, unknown>).message : undefined;
  if (typeof body.message === 'string') return body.message;
  return typeof nested === 'string' ? nested : fallback;
};

const errorResponse = (style: StyleDoc, status: number, group: readonly DocumentedError[], envelope: JsonObject): JsonObject => {
  const codes = codesOf(group);
  const overlay = narrowing(responseJsonSchema(style.errorBody()), responseJsonSchema(style.errorBody({ codes, status })));
  const waits = group.filter((documented) => documented.error.headers['retry-after'] !== undefined).map((documented) => `\`${documented.error.code}\``);
  const lines = group.map((documented) => `- \`${documented.error.code}\`: ${messageIn(documented.body, documented.error.message)}`);
  return {
    description: `${STATUS_CODES[status] ?? 'Error'}:\n${lines.join('\n')}`,
    ...(waits.length === 0
      ? {}
      : {
          headers: {
            'Retry-After': {
              description: `Whole seconds to wait before asking again (with ${waits.join(', ')}).`,
              schema: { type: 'integer', minimum: 1 },
            },
          },
        }),
    content: {
      'application/json': {
        schema: overlay === undefined ? envelope : { allOf: [envelope, overlay] },
        examples: Object.fromEntries(group.map((documented) => [documented.error.code, { summary: messageIn(documented.body, documented.error.message), value: documented.body }])),
      },
    },
  };
};

const operationObject = (described: DescribedRoute, components: Components, securitySchemes: ReadonlySet<string>): JsonObject => {
  const { route, style, operation } = described;
  for (const name of operation.security) {
    if (!securitySchemes.has(name)) throw new Error(`otpgate openapi: route ${route.id} names the security scheme ${name}, which no style defines`);
  }
  const names = pathParameterNames(route.path);
  for (const name of Object.keys(operation.pathParameters ?? {})) {
    if (!names.includes(name)) throw new Error(`otpgate openapi: route ${route.id} describes the path parameter ${name}, which its path ${route.path} does not have`);
  }
  const parameters = names.map((name) => {
    const doc = parameterDoc(route, operation, name);
    return { name, in: 'path', required: true, description: doc.description, schema: requestJsonSchema(doc.schema), ...(doc.example === undefined ? {} : { example: doc.example }) };
  });

  const responses: [number, JsonObject][] = Object.entries(operation.responses).map(([status, doc]) => [
    Number(status),
    {
      description: doc.description,
      content: { 'application/json': { schema: components.add(doc.name ?? `${route.id}Response`, responseJsonSchema(doc.schema)) } },
    },
  ]);
  const envelope = components.add(style.errorSchemaName, responseJsonSchema(style.errorBody()));
  for (const [status, group] of documentedErrors(described)) {
    if (operation.responses[status] !== undefined) throw new Error(`otpgate openapi: route ${route.id} answers ${status} both as a success and as an error`);
    responses.push([status, errorResponse(style, status, group, envelope)]);
  }
  responses.sort(([a], [b]) => a - b);

  const body = operation.requestBody;
  return {
    operationId: route.id,
    tags: [style.tag.name],
    summary: operation.summary,
    ...(operation.description === undefined ? {} : { description: operation.description }),
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(body === undefined
      ? {}
      : {
          requestBody: {
            required: !body.optional,
            ...(body.description === undefined ? {} : { description: body.description }),
            content: { [body.contentType ?? 'application/json']: { schema: components.add(body.name ?? `${route.id}Request`, requestJsonSchema(body.schema)) } },
          },
        }),
    responses: Object.fromEntries(responses.map(([status, response]) => [String(status), response])),
    security: operation.security.length === 0 ? [] : [Object.fromEntries(operation.security.map((name) => [name, []]))],
  };
};

const sortedObject = <T>(entries: Iterable<[string, T]>): Record<string, T> =>
  Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export const DEFAULT_SERVERS: readonly JsonObject[] = [
  { url: 'http://localhost:3000', description: 'The local stack (npm start; another port with PORT)' },
  {
    url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
    description: "A deployed stack: its ApiUrl output (or the stack's publicBaseUrl)",
    variables: { apiId: { default: 'abc123' }, region: { default: 'eu-west-1' } },
  },
];

export interface BuildOptions {
  readonly routes?: readonly Route[];
  readonly styles?: readonly StyleDoc[];
  readonly version?: string;
  readonly servers?: readonly JsonObject[];
}

/** The version in package.json: the document's info.version. */
export const packageVersion = (): string =>
  (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export const buildOpenApiDocument = (options: BuildOptions = {}): JsonObject => {
  const styles = options.styles ?? styleDocs;
  const described = describeRoutes(options.routes ?? routeTable, styles);

  const securitySchemes = new Map(Object.entries(sharedSecuritySchemes));
  for (const style of styles) {
    for (const [name, scheme] of Object.entries(style.securitySchemes ?? {})) {
      if (securitySchemes.has(name)) throw new Error(`otpgate openapi: the security scheme ${name} is defined twice`);
      securitySchemes.set(name, scheme);
    }
  }

  const components = new Components();
  const paths = new Map<string, JsonObject>();
  for (const entry of described) {
    const item = paths.get(entry.route.path) ?? {};
    item[entry.route.method.toLowerCase()] = operationObject(entry, components, new Set(securitySchemes.keys()));
    paths.set(entry.route.path, item);
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'otpgate',
      version: options.version ?? packageVersion(),
      description: [
        'One-time-password authentication deployed into your own AWS account. Several API styles, each copying the documents of an existing service, share one engine, one set of projects and keys, and one token issuer.',
        'Header names are case-insensitive, and every route with a key accepts it as APP-KEY or x-api-key. Every error of a style has that style\'s envelope with a stable `code` (functions/core/errors.ts); every route can also answer 503 `timeout` and 500 `internal_error`.',
        'Generated from the handlers\' valibot schemas by `npm run openapi`; do not edit openapi.json by hand.',
      ].join('\n\n'),
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: options.servers ?? DEFAULT_SERVERS,
    tags: styles.filter((style) => described.some((entry) => entry.style === style)).map((style) => style.tag),
    paths: sortedObject(paths),
    components: {
      schemas: sortedObject(components.schemas),
      securitySchemes: sortedObject(securitySchemes),
    },
  };
};

/** The document as openapi.json holds it: two-space indentation and a final newline. */
export const renderOpenApi = (document: JsonObject = buildOpenApiDocument()): string => `${JSON.stringify(document, null, 2)}\n`;
