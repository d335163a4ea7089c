import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createProject } from '#core/tenancy/projects';
import { runtime } from '#core/runtime';
import { readInbox, type DevMessage } from '../../local/inbox';

/** Helpers for tests that drive the real handlers against the local services of global-setup. */

export interface TestTenant {
  readonly projectId: string;
  readonly environment: string;
  readonly appKey: string;
  readonly keys: Readonly<Record<string, string>>;
}

/**
 * Limits out of the way, for tests of everything else: many sends and tries per number within a
 * test, all from one IP, to numbers of several countries. Tests of the limits themselves ask for
 * the defaults with `limits: 'defaults'`.
 */
export const relaxedLimits = {
  resendCooldownSeconds: 0,
  sendsPerIdentifierPerHour: 100,
  sendsPerIdentifierPerDay: 1000,
  sendsPerIpPerHour: 0,
  failedVerificationsPerIdentifierPerHour: 100,
  allowedCountries: ['*'],
};

/** A fresh project per test file (or test), so tests never see each other's users or codes. */
export const newTenant = async (
  options: { environments?: string[]; settings?: Record<string, unknown>; limits?: 'relaxed' | 'defaults' } = {},
): Promise<TestTenant> => {
  const projectId = `t-${randomBytes(6).toString('hex')}`;
  const environments = options.environments ?? ['development'];
  const settings = { ...(options.limits === 'defaults' ? {} : relaxedLimits), ...options.settings };
  const created = await createProject(runtime().repo, { projectId, environments, settings });
  const keys = Object.fromEntries(created.keys.map((k) => [k.environment, k.appKey]));
  return { projectId, environment: environments[0]!, appKey: keys[environments[0]!]!, keys };
};

export const event = (
  tenant: { projectId: string; environment: string },
  options: { body?: unknown; rawBody?: string; appKey?: string | undefined; headers?: Record<string, string>; method?: string; sourceIp?: string } = {},
): APIGatewayProxyEventV2 => {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.appKey !== undefined) headers['app-key'] = options.appKey;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: `/auth/${tenant.projectId}/${tenant.environment}`,
    rawQueryString: '',
    headers,
    pathParameters: { projectId: tenant.projectId, environment: tenant.environment },
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: false,
    requestContext: {
      accountId: 'test',
      apiId: 'test',
      domainName: 'api.test',
      domainPrefix: 'api',
      http: { method: options.method ?? 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: options.sourceIp ?? '127.0.0.1', userAgent: 'jest' },
      requestId: randomBytes(8).toString('hex'),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
  };
};

/**
 * Every request of a test file runs in this one process against one DynamoDB Local, so a burst of
 * 200 parallel requests queues here as 200 Lambda containers never would: the requests get 30 s
 * rather than the functions' 10, so such a queue on a busy machine is not mistaken for an outage.
 * Deadlines themselves are tested with the functions' own timeout (test/reliability/).
 */
export const lambdaContext = {
  functionName: 'test',
  awsRequestId: 'test',
  // Longer than a deployed function's 10 s: these tests are about outcomes under concurrency, not the
  // deadline, and a slow CI machine must not turn a burst of 50 requests into early 503s.
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

export type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

export interface Response {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: Record<string, any>;
}

/** Invokes a handler as API Gateway would and parses its JSON answer. */
export const call = async (handler: Handler, ev: APIGatewayProxyEventV2): Promise<Response> => {
  const result = await handler(ev, lambdaContext);
  return {
    status: result.statusCode ?? 200,
    headers: (result.headers ?? {}) as Record<string, unknown>,
    body: JSON.parse(result.body ?? 'null') as Record<string, any>,
  };
};

export const inbox = (to?: string): Promise<DevMessage[]> =>
  readInbox({ twilioUrl: process.env.TWILIO_API_BASE_URL!, sesUrl: process.env.AWS_ENDPOINT_URL_SESV2! }, to);

/** The code in the newest message to `to`; fails the test if none arrived. */
export const latestCode = async (to: string): Promise<string> => {
  const [message] = await inbox(to);
  if (!message?.code) throw new Error(`no code was sent to ${to}`);
  return message.code;
};

/** A phone number no other test uses: +91 98xxxxxxxx, valid for libphonenumber. */
// Drawn at random from 10^8 numbers, never twice in one process: a soak run draws thousands, and a
// birthday collision (about 1 in 6 runs at 6,000 numbers) would be a second signup of a registered number.
const issuedMobiles = new Set<string>();
export const uniqueIndianMobile = (): string => {
  for (;;) {
    const mobile = `98${String(randomBytes(4).readUInt32BE() % 100_000_000).padStart(8, '0')}`;
    if (!issuedMobiles.has(mobile)) {
      issuedMobiles.add(mobile);
      return mobile;
    }
  }
};
/** A US number no other test uses: 201-555-xxxx, valid for libphonenumber (national form, without +1). */
export const uniqueUsMobile = (): string => `201555${String(randomBytes(2).readUInt16BE() % 10_000).padStart(4, '0')}`;
export const uniqueEmail = (): string => `user-${randomBytes(5).toString('hex')}@example.com`;
