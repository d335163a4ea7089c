import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** API Gateway HTTP API (payload 2.0) events, as the deployed functions receive them. */

export interface EventOptions {
  readonly method?: 'GET' | 'POST';
  readonly rawPath: string;
  readonly pathParameters?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Every request from its own address, as real users are: the per-IP limit counts each. */
  readonly sourceIp?: string;
}

export const apiEvent = (options: EventOptions): APIGatewayProxyEventV2 => ({
  version: '2.0',
  routeKey: '$default',
  rawPath: options.rawPath,
  rawQueryString: '',
  headers: { 'content-type': 'application/json', 'user-agent': 'otpgate-bench', ...options.headers },
  ...(options.pathParameters ? { pathParameters: options.pathParameters } : {}),
  ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  isBase64Encoded: false,
  requestContext: {
    accountId: '000000000000',
    apiId: 'bench',
    domainName: 'bench.execute-api.us-east-1.amazonaws.com',
    domainPrefix: 'bench',
    http: { method: options.method ?? 'POST', path: options.rawPath, protocol: 'HTTP/1.1', sourceIp: options.sourceIp ?? randomIp(), userAgent: 'otpgate-bench' },
    requestId: randomBytes(8).toString('hex'),
    routeKey: '$default',
    stage: '$default',
    time: new Date().toUTCString(),
    timeEpoch: Date.now(),
  },
});

export const randomIp = (): string => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]! | 1}`;

/** A mobile number no other sample uses: +91 98xxxxxxxx (valid for libphonenumber, an Indian mobile). */
export const uniqueMobile = (): string => `98${String(randomBytes(4).readUInt32BE() % 100_000_000).padStart(8, '0')}`;
export const uniqueEmail = (): string => `bench-${randomBytes(6).toString('hex')}@example.com`;
