import type { Engine, Sender, SendContext, Tenant } from '#core/otp/engine';
import type { Context } from 'aws-lambda';
import { json, tenantRoute, type HttpEvent, type HttpResult, type TenantResolver } from '#core/http/route';
import { emailIdentity, normaliseEmail, normalisePhone, phoneIdentity, type Phone } from '#core/otp/identity';
import { emailBody, emailVerifyBody, mobileBody, mobileVerifyBody, parse, submittedCode } from '#core/styles/mobile-email-schemas';
import { verifyAndIssue, type IssuedToken, type TokenDeps } from '#core/tokens/verify-and-issue';

/**
 * The mobile/email OTP API (signup, login, verify under /auth/{project}/{environment}/), in the
 * request and response shapes of its documents. Each builder returns a complete middy handler;
 * the files in functions/ only choose the dependencies.
 */

export interface StartDeps {
  readonly tenants: TenantResolver;
  readonly engine: Engine;
  readonly sender: Sender;
}

export interface VerifyDeps extends TokenDeps {
  readonly tenants: TenantResolver;
}

type Mode = 'signup' | 'login';
const statusFor: Record<Mode, number> = { signup: 201, login: 200 };

const phoneOf = (input: { mobile: string; country_code?: string | undefined }, tenant: Tenant): Phone =>
  normalisePhone({ mobile: input.mobile, countryCode: input.country_code }, tenant.settings);


/** This style is called from the end user's device: the caller's IP is the user's, and the per-IP limit applies. */
const clientOf = (event: HttpEvent): SendContext => ({ style: 'mobile-email', clientIp: event.requestContext.http.sourceIp });

/** What the documents return for a phone: the number as the user knows it, plus its country code. */
const mobileFields = (phone: Phone) => ({ mobile: phone.nationalNumber, country_code: phone.countryCallingCode });

export const mobileOtpStart = (mode: Mode, deps: StartDeps) =>
  tenantRoute(deps.tenants, async (body, tenant, event) => {
    const phone = phoneOf(parse(mobileBody, body), tenant);
    const { userId } = await deps.engine[mode](tenant, phoneIdentity(phone.e164), deps.sender, clientOf(event));
    return json(statusFor[mode], { user_id: userId, ...mobileFields(phone) });
  });

export const emailOtpStart = (mode: Mode, deps: StartDeps) =>
  tenantRoute(deps.tenants, async (body, tenant, event) => {
    const address = normaliseEmail(parse(emailBody, body).email);
    const { userId } = await deps.engine[mode](tenant, emailIdentity(address), deps.sender, clientOf(event));
    return json(statusFor[mode], { user_id: userId, email: address });
  });

const tokenFields = (issued: IssuedToken) => ({
  access_token: issued.accessToken,
  token_type: 'bearer',
  expires_in: issued.expiresIn,
  refresh_token: issued.refreshToken,
  refresh_expires_in: issued.refreshExpiresIn,
});

export const mobileOtpVerify = (deps: VerifyDeps) =>
  tenantRoute(deps.tenants, async (body, tenant, event) => {
    const input = parse(mobileVerifyBody, body);
    const phone = phoneOf(input, tenant);
    const code = submittedCode(input.otp_code, tenant.settings.codeLength);
    const claims = { phone_number: phone.e164 };
    const issued = await verifyAndIssue(deps, event, tenant, phoneIdentity(phone.e164), code, { claims, ttlSeconds: tenant.settings.tokenTtlSeconds });
    return json(200, { user_id: issued.userId, ...mobileFields(phone), ...tokenFields(issued) });
  });

export const emailOtpVerify = (deps: VerifyDeps) =>
  tenantRoute(deps.tenants, async (body, tenant, event) => {
    const input = parse(emailVerifyBody, body);
    const address = normaliseEmail(input.email);
    const code = submittedCode(input.otp_code, tenant.settings.codeLength);
    const claims = { email: address };
    const issued = await verifyAndIssue(deps, event, tenant, emailIdentity(address), code, { claims, ttlSeconds: tenant.settings.tokenTtlSeconds });
    return json(200, { user_id: issued.userId, email: address, ...tokenFields(issued) });
  });

/**
 * The documents' verify example posts `{mobile, otp_code}` to the login URL. Sending a new code
 * there would kill the one the user is typing, so a login that carries a code is the verify it
 * plainly means: same answer, same errors, nothing sent. A null or empty otp_code carries nothing.
 * Only this peek happens outside the chosen route's chain; a body it cannot read stays a login,
 * whose own chain then refuses it as usual.
 */
const carriesCode = (event: HttpEvent): boolean => {
  const text = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (!text) return false;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
    const code = (parsed as Record<string, unknown>).otp_code;
    return code !== undefined && code !== null && code !== '';
  } catch {
    return false;
  }
};

export type LoginDeps = StartDeps & VerifyDeps;

type LambdaHandler = (event: HttpEvent, context: Context) => Promise<HttpResult>;

const loginOrVerify = (login: LambdaHandler, verify: LambdaHandler): LambdaHandler => (event, context) =>
  (carriesCode(event) ? verify : login)(event, context);

export const mobileOtpLogin = (deps: LoginDeps) => loginOrVerify(mobileOtpStart('login', deps), mobileOtpVerify(deps));

export const emailOtpLogin = (deps: LoginDeps) => loginOrVerify(emailOtpStart('login', deps), emailOtpVerify(deps));
