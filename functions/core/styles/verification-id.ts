import type { ApiError } from '#core/errors';
import { json, tenantRoute, type ErrorFormatter, type HttpEvent, type TenantResolver } from '#core/http/route';
import type { Engine, Sender } from '#core/otp/engine';
import { phoneIdentity } from '#core/otp/identity';
import { authenticateBody, checkIdType, idTypeBody, parse, phoneNumberOf, sendBody, verificationCodeOf } from '#core/styles/verification-id-schemas';
import { verifyAndIssue, type TokenDeps } from '#core/tokens/verify-and-issue';

/**
 * The verification-id API: POST /v1/send-verification-code texts a code and returns its
 * verificationId; POST /v1/user/authenticate checks the code and returns a token, creating the
 * user on the first success (this API has no signup). The `x-api-key` alone picks the project and
 * environment. Every answer, error or not, is `{"status","traceId",...}` with the request id.
 */

export interface SendDeps {
  /** The key-only resolver (`runtime().keyTenants`). */
  readonly tenants: TenantResolver;
  readonly engine: Engine;
  readonly sender: Sender;
}

export interface AuthenticateDeps extends TokenDeps {
  readonly tenants: TenantResolver;
}

/** The request id API Gateway gave this request: the id every log line of it carries too. */
const traceIdOf = (event: HttpEvent): string => event.requestContext?.requestId ?? '';

const success = (event: HttpEvent, data: Record<string, unknown>) => json(200, { status: 'success', traceId: traceIdOf(event), data });

/** The core's fields and key messages are named after its own API (mobile, otp_code, APP-KEY); a client of this one knows other names. */
const fieldNames: Record<string, string> = { mobile: 'phoneNumber', otp_code: 'verificationCode' };
const keyMessages: Record<string, string> = {
  missing_app_key: 'The x-api-key header is required.',
  invalid_app_key: 'The x-api-key is not valid.',
};
const camelCase = (name: string) => name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** Same code and status as the core; this API's envelope, field names and camelCase details. */
export const verificationIdError: ErrorFormatter = (error: ApiError, event) =>
  json(error.status, {
    status: 'error',
    traceId: traceIdOf(event),
    error: {
      code: error.code,
      message: keyMessages[error.code] ?? error.message,
      ...(error.field === undefined ? {} : { field: fieldNames[error.field] ?? error.field }),
      ...Object.fromEntries(Object.entries(error.details).map(([name, value]) => [camelCase(name), value])),
    },
  });

export const sendVerificationCode = (deps: SendDeps) =>
  tenantRoute(
    deps.tenants,
    async (body, tenant, event) => {
      const phone = phoneNumberOf(parse(sendBody, body).phoneNumber, tenant.settings);
      const { challengeId } = await deps.engine.start(tenant, phoneIdentity(phone.e164), deps.sender);
      return success(event, { verificationId: challengeId });
    },
    { formatError: verificationIdError },
  );

export const userAuthenticate = (deps: AuthenticateDeps) =>
  tenantRoute(
    deps.tenants,
    async (body, tenant, event) => {
      checkIdType(parse(idTypeBody, body).idType);
      const input = parse(authenticateBody, body);
      const phone = phoneNumberOf(input.phoneNumber, tenant.settings);
      const code = verificationCodeOf(input.verificationCode, tenant.settings.codeLength);
      const issued = await verifyAndIssue(deps, event, tenant, phoneIdentity(phone.e164), code, {
        claims: { phone_number: phone.e164 },
        ttlSeconds: tenant.settings.verificationTokenTtlSeconds,
        verify: { unknownUser: 'create', challengeId: input.verificationId },
      });
      return success(event, { token: issued.accessToken, expiresAtIso8601: issued.expiresAt.toISOString(), publicUserId: issued.userId, refreshToken: issued.refreshToken });
    },
    { formatError: verificationIdError },
  );
