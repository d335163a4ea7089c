import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { WhatsappSenders } from '#core/delivery/twilio-whatsapp';
import { ApiError, errors } from '#core/errors';
import { json, requestOrigin, tenantRoute, type ErrorFormatter, type HttpEvent } from '#core/http/route';
import { describeError, log, mask } from '#core/log';
import type { Engine, Sender, Tenant } from '#core/otp/engine';
import { deliveryAddress, emailIdentity, normaliseEmail, normalisePhone, phoneIdentity, type Identity } from '#core/otp/identity';
import type { Repository, VerifyServiceRecord } from '#core/store/repository';
import type { VerificationRecord, VerificationStatus, VerificationStore } from '#core/store/verifications';
import { hashAppKey } from '#core/tenancy/app-keys';
import { resolveSettings, type WhatsappConfig } from '#core/tenancy/settings';
import { canonicalSid, SERVICE_SID } from '#core/tenancy/verify-services';
import {
  createVerificationBody,
  parse,
  TWILIO_ONLY_CHANNELS,
  updateVerificationBody,
  VERIFICATION_SID,
  verificationCheckBody,
  type VerifyChannel,
} from '#core/styles/twilio-verify-schemas';

/**
 * The Twilio Verify v2 API, so an app built on Twilio Verify moves to otpgate by changing its base
 * URL and credentials:
 *   POST /v2/Services/{ServiceSid}/Verifications         send a code (201, the verification)
 *   POST /v2/Services/{ServiceSid}/VerificationCheck     check it (200 approved, or 200 pending for a wrong code)
 *   GET  /v2/Services/{ServiceSid}/Verifications/{Sid}   fetch a verification
 *   POST /v2/Services/{ServiceSid}/Verifications/{Sid}   Status=canceled (or approved)
 * HTTP Basic as the twilio SDK sends it: the service's account id and an APP-KEY of its
 * environment. Codes, limits, hashing and single use are the engine's, as in every style; what
 * Verify shows of a verification (status, sends, dates) is kept beside it (store/verifications).
 */

export const STYLE = 'twilio-verify';

/** A create's claim on an address outlives the function's 10-second timeout, so it never ends mid-send. */
const CLAIM_MS = 15_000;

export interface VerifyTenant extends Tenant {
  readonly service: VerifyServiceRecord;
}

export type VerifyServiceResolver = (event: HttpEvent) => Promise<VerifyTenant>;

export interface VerifySenders {
  readonly sms: Sender;
  readonly whatsapp: WhatsappSenders;
  readonly email: Sender;
}

export interface VerifyDeps {
  readonly services: VerifyServiceResolver;
  readonly engine: Engine;
  readonly verifications: VerificationStore;
  /** The public origin resources' `url` is built on (API Gateway's domain when unset). */
  readonly publicBaseUrl: string | undefined;
  readonly now?: () => number;
}

export interface CreateDeps extends VerifyDeps {
  readonly senders: VerifySenders;
}

const basicCredentials = (header: string | undefined): { username: string; password: string } => {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? '');
  if (!match) throw errors.missingAppKey();
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw errors.invalidAppKey();
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
};

/**
 * The ServiceSid in the path names the project and environment; the Basic password must be an
 * APP-KEY of exactly that environment and the username its account id. Every mismatch (unknown
 * service, unknown key, a key of another project or environment, another account id) is the same
 * 401, so a caller without the key learns nothing about which services exist.
 */
export const createVerifyServiceResolver =
  (repo: Repository, defaultCountryCode: string): VerifyServiceResolver =>
  async (event) => {
    const { username, password } = basicCredentials(event.headers.authorization);
    const sid = event.pathParameters?.ServiceSid ?? '';
    if (!SERVICE_SID.test(sid) || password === '') throw errors.invalidAppKey();
    const [service, key] = await Promise.all([repo.findVerifyService(canonicalSid(sid)), repo.findAppKey(hashAppKey(password))]);
    if (!service || !key || key.projectId !== service.projectId || key.environment !== service.environment || canonicalSid(username) !== service.accountSid) {
      throw errors.invalidAppKey();
    }
    const project = await repo.findProject(service.projectId);
    if (!project) throw errors.invalidAppKey();
    return {
      projectId: service.projectId,
      environment: service.environment,
      settings: resolveSettings(project.settings, defaultCountryCode, service.environment),
      service,
    };
  };

// ---------------------------------------------------------------------------------------------
// Errors: otpgate's ApiErrors in Twilio's shape, with Twilio's codes.

/** Errors only this API has; their codes are mapped like the core's. */
export const verifyErrors = {
  channelDisabled: (channel: string) =>
    new ApiError(400, 'channel_disabled', `Delivery channel disabled: ${channel}. otpgate sends codes by sms, whatsapp and email.`, { field: 'Channel' }),
  customCodeNotEnabled: () =>
    new ApiError(403, 'custom_code_not_enabled', "CustomCode is not enabled for this project (its twilioVerifyCustomCode setting is off).", { field: 'CustomCode' }),
  notFound: () => new ApiError(404, 'verification_not_found', 'No pending verification matches the request.'),
  concurrent: () => new ApiError(429, 'concurrent_requests', 'Too many concurrent requests for phone number'),
} as const;

export interface TwilioCode {
  readonly code: number;
  readonly status: number;
  /** Twilio's own wording, where apps may match on it. */
  readonly message?: string;
}

/** otpgate's error codes and the Twilio error each is answered with (the README's table is this one). */
export const TWILIO_ERRORS: Readonly<Record<string, TwilioCode>> = {
  missing_app_key: { code: 20003, status: 401, message: 'Authenticate' },
  invalid_app_key: { code: 20003, status: 401, message: 'Authenticate' },
  invalid_request: { code: 60200, status: 400 },
  invalid_mobile: { code: 60200, status: 400 },
  invalid_email: { code: 60200, status: 400 },
  channel_disabled: { code: 60223, status: 400 },
  custom_code_not_enabled: { code: 60204, status: 403 },
  country_not_allowed: { code: 60410, status: 403 },
  too_many_attempts: { code: 60202, status: 429, message: 'Max check attempts reached' },
  too_many_failures: { code: 60202, status: 429, message: 'Max check attempts reached' },
  // The identifier's send window; the per-IP limit, also too_many_requests, is 20429 (see twilioCodeFor).
  too_many_requests: { code: 60203, status: 429, message: 'Max send attempts reached' },
  resend_too_soon: { code: 20429, status: 429 },
  budget_exceeded: { code: 20429, status: 429 },
  concurrent_requests: { code: 60212, status: 429, message: 'Too many concurrent requests for phone number' },
  verification_not_found: { code: 20404, status: 404 },
  no_pending_otp: { code: 20404, status: 404 },
  otp_expired: { code: 20404, status: 404 },
  delivery_failed: { code: 20503, status: 503 },
  timeout: { code: 20503, status: 503 },
  service_unavailable: { code: 20503, status: 503, message: 'Service Unavailable' },
  internal_error: { code: 20500, status: 500, message: 'Internal Server Error' },
};

/** When Twilio's Messages API refused a number, what Verify answers for such a number. */
const REFUSED_NUMBERS: Readonly<Record<number, TwilioCode>> = {
  21211: { code: 60200, status: 400, message: 'Invalid parameter `To`: not a valid phone number.' },
  21614: { code: 60205, status: 400, message: 'SMS is not supported by landline phone number' },
  21408: { code: 60605, status: 403, message: 'Verification delivery attempt blocked' },
};

const PER_IP_LIMIT: TwilioCode = { code: 20429, status: 429 };

const byStatus = (status: number): TwilioCode => {
  if (status >= 500) return TWILIO_ERRORS.internal_error!;
  const code = ({ 401: 20003, 403: 20403, 404: 20404, 429: 20429 } as Record<number, number>)[status] ?? 60200;
  return { code, status: code === 60200 ? 400 : status };
};

export const twilioCodeFor = (error: ApiError): TwilioCode => {
  if (error.code === 'delivery_failed') {
    const refused = (error.cause as { code?: unknown } | undefined)?.code;
    if (typeof refused === 'number' && REFUSED_NUMBERS[refused]) return REFUSED_NUMBERS[refused];
  }
  // Told apart by the limit the engine names, never by the wording of the message.
  if (error.code === 'too_many_requests' && error.limit === 'ip_sends') return PER_IP_LIMIT;
  return TWILIO_ERRORS[error.code] ?? byStatus(error.status);
};

/**
 * Every Twilio answer an otpgate error code can get on these routes, whatever the error's details
 * (its message, its cause): what the OpenAPI document lists. Empty for a code the table lacks.
 */
export const twilioAnswersOf = (code: string): TwilioCode[] => [
  ...(TWILIO_ERRORS[code] === undefined ? [] : [TWILIO_ERRORS[code]]),
  ...(code === 'too_many_requests' ? [PER_IP_LIMIT] : []),
  ...(code === 'delivery_failed' ? Object.values(REFUSED_NUMBERS) : []),
];

/** Twilio's error shape, `{"code","message","more_info","status"}`, whatever went wrong. */
export const twilioVerifyError: ErrorFormatter = (error, event) => {
  const twilio = twilioCodeFor(error);
  const path = (event.rawPath ?? event.requestContext?.http?.path ?? '').replace(/^\/v2/, '');
  const message =
    twilio.message ??
    (twilio.code === 20404
      ? `The requested resource ${path} was not found`
      : twilio.code === 60200 && error.field !== undefined
        ? `Invalid parameter \`${error.field}\`: ${error.message}`
        : error.message);
  return json(
    twilio.status,
    { code: twilio.code, message, more_info: `https://www.twilio.com/docs/errors/${twilio.code}`, status: twilio.status },
    twilio.status === 401 ? { 'www-authenticate': 'Basic realm="otpgate"' } : {},
  );
};

// ---------------------------------------------------------------------------------------------
// Addresses and delivery.

/** The core's messages name its own fields (mobile, email); this API has one address parameter, To. */
export const aboutTo = (error: ApiError): ApiError =>
  error.code === 'invalid_mobile' || error.code === 'invalid_email'
    ? new ApiError(error.status, error.code, error.message.replace(/\b(mobile|email|country_code)\b/g, 'To'), { field: 'To', cause: error })
    : error;

const rename = (error: unknown): never => {
  throw error instanceof ApiError ? aboutTo(error) : error;
};

const phoneOf = (to: string, policy: Tenant['settings']): Identity => {
  try {
    return phoneIdentity(normalisePhone({ mobile: to }, policy).e164);
  } catch (error) {
    return rename(error);
  }
};

const emailOf = (to: string): Identity => {
  try {
    return emailIdentity(normaliseEmail(to));
  } catch (error) {
    return rename(error);
  }
};

/** The address a code goes to: a phone number (E.164, or national in the project's default country) or an email. */
const identityFor = (channel: VerifyChannel, to: string, tenant: Tenant): Identity => (channel === 'email' ? emailOf(to) : phoneOf(to, tenant.settings));

/** The address a check names; the country rules were met when its code was sent. */
const checkedIdentity = (to: string, tenant: Tenant): Identity =>
  to.includes('@') ? emailOf(to) : phoneOf(to, { ...tenant.settings, allowedCountries: ['*'] });

/** A form's unencoded + arrives as a space: say so, rather than read the rest as a national number. */
const refusePlusAsSpace = (to: unknown) => {
  if (typeof to === 'string' && /^ [0-9]/.test(to)) {
    throw errors.invalidRequest('To must keep its leading +: send the form URL-encoded (%2B; with curl, --data-urlencode "To=+1…").', 'To');
  }
};

const withConfig = (tenant: Tenant, config: WhatsappConfig): Tenant => ({
  ...tenant,
  settings: { ...tenant.settings, codeLength: config.codeLength ?? tenant.settings.codeLength, otpTtlSeconds: config.otpTtlSeconds ?? tenant.settings.otpTtlSeconds },
});

/** The sender for a channel and the settings codes go out with (a WhatsApp configuration's length and validity; the friendly name). */
const deliveryFor = (senders: VerifySenders, tenant: Tenant, input: { Channel: VerifyChannel; CustomFriendlyName?: string | undefined; AppHash?: string | undefined }) => {
  let sendTenant: Tenant = tenant;
  let sender: Sender;
  if (input.Channel === 'whatsapp') {
    const uid = tenant.settings.twilioVerifyWhatsappConfig;
    const configs = tenant.settings.whatsappConfigs;
    const config = uid !== undefined && Object.hasOwn(configs, uid) ? configs[uid]! : {};
    sendTenant = withConfig(tenant, config);
    sender = senders.whatsapp(config);
  } else {
    sender = senders[input.Channel];
  }
  if (input.CustomFriendlyName !== undefined) sendTenant = { ...sendTenant, settings: { ...sendTenant.settings, appName: input.CustomFriendlyName } };
  const appHash = input.Channel === 'sms' ? input.AppHash : undefined;
  if (appHash !== undefined) {
    const inner = sender;
    sender = { channel: inner.channel, send: (message) => inner.send({ ...message, appHash }) };
  }
  return { sendTenant, sender };
};

// ---------------------------------------------------------------------------------------------
// Resources.

/** Twilio writes dates without milliseconds. */
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A pending verification whose code has run out is expired, whether or not anyone checked it since. */
const statusAt = (record: VerificationRecord, at: number): VerificationStatus =>
  record.status === 'pending' && record.expiresAt <= at ? 'expired' : record.status;

const isOpen = (record: VerificationRecord, at: number) => statusAt(record, at) === 'pending';

const verificationResource = (record: VerificationRecord, tenant: VerifyTenant, event: HttpEvent, deps: VerifyDeps, at: number) => {
  const status = statusAt(record, at);
  return {
    sid: record.sid,
    service_sid: record.serviceSid,
    account_sid: tenant.service.accountSid,
    to: deliveryAddress(record.identity),
    channel: record.channel,
    status,
    valid: status === 'approved',
    date_created: iso(record.createdAt),
    date_updated: iso(record.updatedAt),
    lookup: {},
    amount: record.amount ?? null,
    payee: record.payee ?? null,
    send_code_attempts: record.attempts.map((a) => ({ time: new Date(a.at).toISOString(), channel: a.channel, attempt_sid: a.sid })),
    sna: null,
    url: `${requestOrigin(event, deps.publicBaseUrl)}/v2/Services/${record.serviceSid}/Verifications/${record.sid}`,
  };
};

const checkResource = (record: VerificationRecord, tenant: VerifyTenant, status: VerificationStatus) => ({
  sid: record.sid,
  service_sid: record.serviceSid,
  account_sid: tenant.service.accountSid,
  to: deliveryAddress(record.identity),
  channel: record.channel,
  status,
  valid: status === 'approved',
  amount: record.amount ?? null,
  payee: record.payee ?? null,
  sna_attempts_error_codes: [],
  date_created: iso(record.createdAt),
  date_updated: iso(record.updatedAt),
});

/** A send's attempt sid: stable for the engine's challenge, and nothing else can be read from it. */
const attemptSid = (challengeId: string) => `VL${createHash('sha256').update(`otpgate attempt\0${challengeId}`).digest('hex').slice(0, 32)}`;

/** The verification a path names, if it belongs to this service. */
const ownVerification = async (deps: VerifyDeps, tenant: VerifyTenant, sid: string | undefined): Promise<VerificationRecord> => {
  if (sid === undefined || !VERIFICATION_SID.test(sid)) throw verifyErrors.notFound();
  const record = await deps.verifications.find(tenant, canonicalSid(sid));
  if (!record || record.serviceSid !== tenant.service.serviceSid) throw verifyErrors.notFound();
  return record;
};

const routeOptions = { formatError: twilioVerifyError, body: 'form' } as const;

// ---------------------------------------------------------------------------------------------
// Routes.

/**
 * Sends a code. While the service has a pending verification for the address, the new code
 * belongs to it (same sid, one more send_code_attempts entry), as Twilio resends within a
 * verification; otherwise a new verification starts. The engine replaces the address's previous
 * code either way: only the latest code works.
 */
export const twilioVerifyCreate = (deps: CreateDeps) =>
  tenantRoute<VerifyTenant>(
    deps.services,
    async (body, tenant, event) => {
      const now = deps.now ?? Date.now;
      if (typeof body.Channel === 'string' && TWILIO_ONLY_CHANNELS.includes(body.Channel)) throw verifyErrors.channelDisabled(body.Channel);
      refusePlusAsSpace(body.To);
      const input = parse(createVerificationBody, body);
      if (input.CustomCode !== undefined && !tenant.settings.twilioVerifyCustomCode) throw verifyErrors.customCodeNotEnabled();
      const identity = identityFor(input.Channel, input.To, tenant);
      const { sendTenant, sender } = deliveryFor(deps.senders, tenant, input);
      const serviceSid = tenant.service.serviceSid;

      const token = randomUUID();
      const claimed = await deps.verifications.claim(tenant, serviceSid, identity, token, now(), CLAIM_MS);
      if (claimed === 'busy') throw verifyErrors.concurrent();
      let record: VerificationRecord;
      try {
        const current = claimed.currentSid === undefined ? undefined : await deps.verifications.find(tenant, claimed.currentSid);
        const { challengeId } = await deps.engine.start(sendTenant, identity, sender, { style: STYLE, clientIp: input.DeviceIp, customCode: input.CustomCode });
        const at = now();
        const attempt = { sid: attemptSid(challengeId), channel: input.Channel, at };
        const expiresAt = at + sendTenant.settings.otpTtlSeconds * 1000;
        const resent = current !== undefined && isOpen(current, at) ? await deps.verifications.addAttempt(tenant, current.sid, challengeId, attempt, expiresAt) : undefined;
        if (resent) {
          record = resent;
        } else {
          record = {
            sid: `VE${randomBytes(16).toString('hex')}`,
            serviceSid,
            identity,
            channel: input.Channel,
            status: 'pending',
            challengeId,
            attempts: [attempt],
            amount: input.Amount,
            payee: input.Payee,
            createdAt: at,
            updatedAt: at,
            expiresAt,
          };
          await deps.verifications.create(tenant, record);
        }
      } catch (error) {
        await deps.verifications.release(tenant, serviceSid, identity, token).catch((releaseError: unknown) =>
          log.error('could not release a verification claim', { projectId: tenant.projectId, environment: tenant.environment, ...describeError(releaseError) }),
        );
        throw error;
      }
      await deps.verifications.point(tenant, serviceSid, identity, token, record.sid, record.expiresAt);
      return json(201, verificationResource(record, tenant, event, deps, now()));
    },
    routeOptions,
  );

/** The verification a check names: by VerificationSid (and then To, if given, must be its address) or by To. */
const verificationToCheck = async (deps: VerifyDeps, tenant: VerifyTenant, input: { To?: string | undefined; VerificationSid?: string | undefined }) => {
  const to = input.To === undefined || input.To === '' ? undefined : checkedIdentity(input.To, tenant);
  if (input.VerificationSid !== undefined) {
    const record = await ownVerification(deps, tenant, input.VerificationSid);
    if (to !== undefined && (to.kind !== record.identity.kind || to.address !== record.identity.address)) throw verifyErrors.notFound();
    return record;
  }
  if (to === undefined) throw errors.invalidRequest('Either To or VerificationSid is required.', 'To');
  const sid = await deps.verifications.currentSid(tenant, tenant.service.serviceSid, to);
  const record = sid === undefined ? undefined : await deps.verifications.find(tenant, sid);
  if (!record) throw verifyErrors.notFound();
  return record;
};

/**
 * Checks a code against the verification's latest code, through the engine (its attempts,
 * failure limits and single use). A wrong code is 200 with status pending, as in Verify.
 */
export const twilioVerifyCheck = (deps: VerifyDeps) =>
  tenantRoute<VerifyTenant>(
    deps.services,
    async (body, tenant) => {
      const now = deps.now ?? Date.now;
      const input = parse(verificationCheckBody, body);
      const record = await verificationToCheck(deps, tenant, input);
      const status = statusAt(record, now());
      // As in Verify, a verification that had its tries keeps answering "max check attempts" until it expires.
      if (status === 'max_attempts_reached' && record.expiresAt > now()) throw errors.tooManyAttempts();
      if (status !== 'pending') throw verifyErrors.notFound();
      try {
        await deps.engine.verify(tenant, record.identity, input.Code, { challengeId: record.challengeId, unknownUser: 'ignore' });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.code === 'invalid_otp') return json(200, checkResource(record, tenant, 'pending'));
        if (error.code === 'too_many_attempts') await deps.verifications.finish(tenant, record.sid, 'max_attempts_reached', now());
        if (error.code === 'otp_expired') await deps.verifications.finish(tenant, record.sid, 'expired', now());
        throw error;
      }
      // The engine used the code up; a cancel racing it can only lose.
      const approved = (await deps.verifications.finish(tenant, record.sid, 'approved', now())) ?? { ...record, updatedAt: now() };
      return json(200, checkResource(approved, tenant, 'approved'));
    },
    routeOptions,
  );

export const twilioVerifyFetch = (deps: VerifyDeps) =>
  tenantRoute<VerifyTenant>(
    deps.services,
    async (_body, tenant, event) => {
      const record = await ownVerification(deps, tenant, event.pathParameters?.Sid);
      return json(200, verificationResource(record, tenant, event, deps, (deps.now ?? Date.now)()));
    },
    routeOptions,
  );

/**
 * Status=canceled ends a pending verification: its code is withdrawn from the engine, so it works
 * nowhere. Status=approved marks it approved (an app that verified the user some other way), and
 * withdraws the code too: nothing is left to check.
 */
export const twilioVerifyUpdate = (deps: VerifyDeps) =>
  tenantRoute<VerifyTenant>(
    deps.services,
    async (body, tenant, event) => {
      const now = deps.now ?? Date.now;
      const input = parse(updateVerificationBody, body);
      const record = await ownVerification(deps, tenant, event.pathParameters?.Sid);
      if (!isOpen(record, now())) throw verifyErrors.notFound();
      await deps.engine.cancel(tenant, record.identity, record.challengeId);
      const finished = await deps.verifications.finish(tenant, record.sid, input.Status, now());
      if (!finished) throw verifyErrors.notFound();
      log.info(`verification ${input.Status}`, { projectId: tenant.projectId, environment: tenant.environment, channel: record.channel, to: mask(record.identity.address) });
      return json(200, verificationResource(finished, tenant, event, deps, now()));
    },
    routeOptions,
  );
