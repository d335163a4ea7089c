import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { defaultSesSender } from '#core/delivery/ses-email';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { twilioWhatsappSenders } from '#core/delivery/twilio-whatsapp';
import { createEngine } from '#core/otp/engine';
import { runtime } from '#core/runtime';
import { emailOtpLogin, emailOtpStart, emailOtpVerify, mobileOtpLogin, mobileOtpStart, mobileOtpVerify } from '#core/styles/mobile-email';
import { sendVerificationCode, userAuthenticate } from '#core/styles/verification-id';
import { whatsappSendOtp, whatsappVerifyOtp } from '#core/styles/whatsapp-otp';
import { logoutRoute, tokenRefreshRoute } from '#core/tokens/session-routes';
import type { Context } from 'aws-lambda';
import { event, type Handler, type Response, type TestTenant } from '../support/harness';

/**
 * Like the harness's call, with a Lambda context that has minutes left: this machine is shared and
 * loaded, and middy's early timeout (at the context's remaining time) would otherwise answer 503
 * to bursts before they are decided.
 */
const patientContext = { functionName: 'redteam', awsRequestId: 'redteam', getRemainingTimeInMillis: () => 300_000 } as unknown as Context;
export const call = async (handler: Handler, ev: APIGatewayProxyEventV2): Promise<Response> => {
  const result = await handler(ev, patientContext);
  return {
    status: result.statusCode ?? 200,
    headers: (result.headers ?? {}) as Record<string, unknown>,
    body: JSON.parse(result.body ?? 'null') as Record<string, any>,
  };
};

/**
 * The red team's handlers: every route of every style, built with one engine whose clock the test
 * moves (as test/integration/limits.test.ts does), over the real stores, DynamoDB Local and the
 * local Twilio and SES endpoints.
 */
export const clocked = (options: { sleep?: (ms: number) => Promise<void> } = {}) => {
  const rt = runtime();
  const base = Date.now();
  let offset = 0;
  const now = () => base + offset;
  const engine = createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper, now, ...(options.sleep ? { sleep: options.sleep } : {}) });
  const sms = twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl });
  const email = defaultSesSender(rt.config);
  const whatsapp = twilioWhatsappSenders(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl });
  const tokenDeps = { ...rt, engine, publicBaseUrl: undefined };
  return {
    engine,
    now,
    advance: (ms: number) => {
      offset += ms;
    },
    /** Moves the clock to an absolute instant. */
    setTime: (at: number) => {
      offset = at - base;
    },
    mobileSignup: mobileOtpStart('signup', { ...rt, engine, sender: sms }),
    mobileLogin: mobileOtpLogin({ ...tokenDeps, sender: sms }),
    mobileVerify: mobileOtpVerify(tokenDeps),
    emailSignup: emailOtpStart('signup', { ...rt, engine, sender: email }),
    emailLogin: emailOtpLogin({ ...tokenDeps, sender: email }),
    emailVerify: emailOtpVerify(tokenDeps),
    v1Send: sendVerificationCode({ tenants: rt.keyTenants, engine, sender: sms }),
    v1Authenticate: userAuthenticate({ ...tokenDeps, tenants: rt.keyTenants }),
    waSend: whatsappSendOtp({ tenants: rt.keyTenants, engine, whatsapp }),
    waVerify: whatsappVerifyOtp({ tenants: rt.keyTenants, engine }),
    refresh: tokenRefreshRoute({ ...rt, publicBaseUrl: undefined }),
    logout: logoutRoute({ ...rt, publicBaseUrl: undefined }),
  };
};

export type Clocked = ReturnType<typeof clocked>;

type Target = Pick<TestTenant, 'projectId' | 'environment' | 'appKey'>;

/** POST to a /auth/{project}/{environment}/... route with the APP-KEY. */
export const poster =
  (tenant: Target) =>
  (handler: Handler, body: unknown, options: { sourceIp?: string; headers?: Record<string, string> } = {}) =>
    call(handler, event(tenant, { body, appKey: tenant.appKey, ...(options.sourceIp ? { sourceIp: options.sourceIp } : {}), ...(options.headers ? { headers: options.headers } : {}) }));

/** An event for a key-only route (/v1/..., /otp/{id}/...): no project in the path, the key in x-api-key. */
export const keyEvent = (path: string, body: unknown, key: string | undefined, pathParameters?: Record<string, string>): APIGatewayProxyEventV2 => {
  const base = event({ projectId: '', environment: '' }, typeof body === 'string' ? { rawBody: body } : { body });
  return {
    ...base,
    rawPath: path,
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'x-api-key': key }) },
    pathParameters,
    requestContext: { ...base.requestContext, http: { ...base.requestContext.http, path } },
  };
};

export const v1 = (tenant: Target) => ({
  send: (h: Clocked, phoneNumber: string) => call(h.v1Send, keyEvent('/v1/send-verification-code', { phoneNumber }, tenant.appKey)),
  authenticate: (h: Clocked, body: Record<string, unknown>) =>
    call(h.v1Authenticate, keyEvent('/v1/user/authenticate', { idType: 'smsVerificationCode', ...body }, tenant.appKey)),
});

export const wa = (tenant: Target) => ({
  send: (h: Clocked, configUid: string, body: Record<string, unknown>) =>
    call(h.waSend, keyEvent(`/otp/${configUid}/sendOTP`, body, tenant.appKey, { otpId: configUid })),
  verify: (h: Clocked, otpId: string, body: Record<string, unknown>) =>
    call(h.waVerify, keyEvent(`/otp/${otpId}/verifyOTP`, body, tenant.appKey, { otpId })),
});

/** A code that is not `code`, of the same length. */
export const wrongCode = (code: string) => String((Number(code) + 1) % 10 ** code.length).padStart(code.length, '0');

/** Sequential, so DynamoDB Local sees the requests one after another. */
export const inSequence = async <T>(n: number, run: (i: number) => Promise<T>): Promise<T[]> => {
  const out: T[] = [];
  for (let i = 0; i < n; i += 1) out.push(await run(i));
  return out;
};

export const uniqueGmail = () => `victim${randomBytes(4).toString('hex')}@gmail.com`;
