import type { Deliver, Engine, Tenant } from '#core/otp/engine';
import { requestOrigin, json, tenantRoute, type HttpEvent, type TenantResolver } from '#core/http/route';
import { normaliseEmail, normalisePhone, type Identity, type Phone } from '#core/otp/identity';
import { emailBody, emailVerifyBody, mobileBody, mobileVerifyBody, parse, submittedCode } from '#core/styles/mobile-email-schemas';
import type { TenantRef } from '#core/store/repository';
import { issuerFor, issueAccessToken, type SigningKey } from '#core/tokens/access-tokens';

/**
 * The mobile/email OTP API (signup, login, verify under /auth/{project}/{environment}/), in the
 * request and response shapes of its documents. Each builder returns a complete middy handler;
 * the files in functions/ only choose the dependencies.
 */

export interface StartDeps {
  readonly tenants: TenantResolver;
  readonly engine: Engine;
  readonly deliver: Deliver;
}

export interface VerifyDeps {
  readonly tenants: TenantResolver;
  readonly engine: Engine;
  readonly signingKey: (tenant: TenantRef) => Promise<SigningKey>;
  readonly publicBaseUrl: string | undefined;
  readonly now?: () => number;
}

type Mode = 'signup' | 'login';
const statusFor: Record<Mode, number> = { signup: 201, login: 200 };

const phoneOf = (input: { mobile: string; country_code?: string | undefined }, tenant: Tenant): Phone =>
  normalisePhone({ mobile: input.mobile, countryCode: input.country_code }, tenant.settings);

const sms = (phone: Phone): Identity => ({ channel: 'sms', address: phone.e164 });
const email = (address: string): Identity => ({ channel: 'email', address });

/** What the documents return for a phone: the number as the user knows it, plus its country code. */
const mobileFields = (phone: Phone) => ({ mobile: phone.nationalNumber, country_code: phone.countryCallingCode });

export const mobileOtpStart = (mode: Mode, deps: StartDeps) =>
  tenantRoute(deps.tenants, async (body, tenant) => {
    const phone = phoneOf(parse(mobileBody, body), tenant);
    const { userId } = await deps.engine[mode](tenant, sms(phone), deps.deliver);
    return json(statusFor[mode], { user_id: userId, ...mobileFields(phone) });
  });

export const emailOtpStart = (mode: Mode, deps: StartDeps) =>
  tenantRoute(deps.tenants, async (body, tenant) => {
    const address = normaliseEmail(parse(emailBody, body).email);
    const { userId } = await deps.engine[mode](tenant, email(address), deps.deliver);
    return json(statusFor[mode], { user_id: userId, email: address });
  });

/**
 * Verifies a code and issues the token, in the one order that is safe: the signing key is loaded
 * before the code is consumed, so a key that cannot be loaded never costs the user their code.
 */
const verifyAndIssue = async (
  deps: VerifyDeps,
  event: HttpEvent,
  tenant: Tenant,
  identity: Identity,
  code: string,
  claims: Record<string, string>,
) => {
  const key = await deps.signingKey(tenant);
  const { userId } = await deps.engine.verify(tenant, identity, code);
  const ttl = tenant.settings.tokenTtlSeconds;
  const access_token = await issueAccessToken(key, {
    issuer: issuerFor(requestOrigin(event, deps.publicBaseUrl), tenant.projectId, tenant.environment),
    projectId: tenant.projectId,
    environment: tenant.environment,
    userId,
    ttlSeconds: ttl,
    nowSeconds: Math.floor((deps.now ?? Date.now)() / 1000),
    claims,
  });
  return { userId, tokens: { access_token, token_type: 'bearer', expires_in: ttl } };
};

export const mobileOtpVerify = (deps: VerifyDeps) =>
  tenantRoute(deps.tenants, async (body, tenant, event) => {
    const input = parse(mobileVerifyBody, body);
    const phone = phoneOf(input, tenant);
    const code = submittedCode(input.otp_code, tenant.settings.codeLength);
    const { userId, tokens } = await verifyAndIssue(deps, event, tenant, sms(phone), code, { phone_number: phone.e164 });
    return json(200, { user_id: userId, ...mobileFields(phone), ...tokens });
  });

export const emailOtpVerify = (deps: VerifyDeps) =>
  tenantRoute(deps.tenants, async (body, tenant, event) => {
    const input = parse(emailVerifyBody, body);
    const address = normaliseEmail(input.email);
    const code = submittedCode(input.otp_code, tenant.settings.codeLength);
    const { userId, tokens } = await verifyAndIssue(deps, event, tenant, email(address), code, { email: address });
    return json(200, { user_id: userId, email: address, ...tokens });
  });
