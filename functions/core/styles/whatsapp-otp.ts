import { STATUS_CODES } from 'node:http';
import { ApiError, errors } from '#core/errors';
import { json, tenantRoute, type ErrorFormatter, type HttpEvent, type TenantResolver } from '#core/http/route';
import type { Engine, Tenant } from '#core/otp/engine';
import { normalisePhone, phoneIdentity, type Phone } from '#core/otp/identity';
import type { WhatsappSenders } from '#core/delivery/twilio-whatsapp';
import { whatsappConfigUidSchema, type WhatsappConfig } from '#core/tenancy/settings';
import { parse, sendOtpBody, verifyOtpBody } from '#core/styles/whatsapp-otp-schemas';
import * as v from 'valibot';

/**
 * The WhatsApp OTP API: `POST /otp/{otp_config_uid}/sendOTP` and `POST /otp/{otp_uid}/verifyOTP`
 * with an `X-API-KEY` that alone picks the project and environment. There are no users here, only
 * codes: verify says whether the code is right and issues no token. The number is the same phone
 * identity as in every other style, so it has one pending code whichever style or channel sent it.
 */

export interface SendOtpDeps {
  readonly tenants: TenantResolver;
  readonly engine: Engine;
  readonly whatsapp: WhatsappSenders;
}

export interface VerifyOtpDeps {
  readonly tenants: TenantResolver;
  readonly engine: Engine;
}

/**
 * The document's error shape (`{"timestamp","status","error","path"}`, Spring's), plus `message`
 * and the core's machine-readable `code`. A wrong code is 403 as documented; an id that names no
 * code waiting for this number (never sent, another number's or project's, used, replaced) is 404.
 */
const statusFor: Readonly<Record<string, number>> = { invalid_otp: 403, no_pending_otp: 404 };

const messageFor: Readonly<Record<string, string>> = {
  missing_app_key: 'The X-API-KEY header is required.',
  invalid_app_key: 'The X-API-KEY is not valid.',
  invalid_otp: 'The OTP is not correct.',
  no_pending_otp: 'No OTP with this id is waiting for this number; send a new one.',
};

export const whatsappErrorFormat: ErrorFormatter = (error: ApiError, event: HttpEvent) => {
  const status = statusFor[error.code] ?? error.status;
  const attemptsRemaining = error.details.attempts_remaining;
  return json(status, {
    timestamp: new Date().toISOString(),
    status,
    error: STATUS_CODES[status] ?? 'Error',
    code: error.code,
    message: messageFor[error.code] ?? error.message,
    ...(typeof attemptsRemaining === 'number' ? { attemptsRemaining } : {}),
    path: event.rawPath ?? event.requestContext?.http?.path,
  });
};

/** The path's id, lower-cased; a value no configuration or code can have is simply not found. */
const pathId = (event: HttpEvent, notFound: () => ApiError): string => {
  const id = event.pathParameters?.otpId?.toLowerCase() ?? '';
  if (!v.is(whatsappConfigUidSchema, id)) throw notFound();
  return id;
};

const configOf = (tenant: Tenant, uid: string): WhatsappConfig => {
  const configs = tenant.settings.whatsappConfigs;
  if (!Object.hasOwn(configs, uid)) throw errors.otpConfigNotFound();
  return configs[uid]!;
};

/** Codes sent with a configuration have its length and validity; everything else is the project's. */
const withConfig = (tenant: Tenant, config: WhatsappConfig): Tenant => ({
  ...tenant,
  settings: {
    ...tenant.settings,
    codeLength: config.codeLength ?? tenant.settings.codeLength,
    otpTtlSeconds: config.otpTtlSeconds ?? tenant.settings.otpTtlSeconds,
  },
});

/** The shared phone rules, with this API's field names in their messages. */
const phoneOf = (input: { mobileNumber: string; countryCode?: string | undefined }, tenant: Tenant): Phone => {
  try {
    return normalisePhone({ mobile: input.mobileNumber, countryCode: input.countryCode }, tenant.settings);
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'invalid_mobile') throw error;
    const message = error.message.replace(/\bcountry_code\b/g, 'countryCode').replace(/\bmobile\b/g, 'mobileNumber');
    throw new ApiError(error.status, error.code, message, { field: error.field === 'country_code' ? 'countryCode' : 'mobileNumber', cause: error });
  }
};

export const whatsappSendOtp = (deps: SendOtpDeps) =>
  tenantRoute(
    deps.tenants,
    async (body, tenant, event) => {
      const config = configOf(tenant, pathId(event, errors.otpConfigNotFound));
      const phone = phoneOf(parse(sendOtpBody, body), tenant);
      const { challengeId } = await deps.engine.start(withConfig(tenant, config), phoneIdentity(phone.e164), deps.whatsapp(config));
      return json(201, { id: challengeId, message: 'success' });
    },
    { formatError: whatsappErrorFormat },
  );

export const whatsappVerifyOtp = (deps: VerifyOtpDeps) =>
  tenantRoute(
    deps.tenants,
    async (body, tenant, event) => {
      const otpId = pathId(event, errors.noPendingOtp);
      const input = parse(verifyOtpBody, body);
      const phone = phoneOf(input, tenant);
      // The id must be the very code pending for this number in this tenant: tries are spent on nothing else.
      await deps.engine.verify(tenant, phoneIdentity(phone.e164), input.otp, { challengeId: otpId, unknownUser: 'ignore' });
      return json(200, { id: otpId, message: 'success' });
    },
    { formatError: whatsappErrorFormat },
  );
