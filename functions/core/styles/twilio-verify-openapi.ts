import * as v from 'valibot';
import { errors } from '#core/errors';
import { sampleErrors } from '#core/openapi/error-catalogue';
import { checkedInCode, errorGroups, type ErrorBodyShape, type StyleDoc } from '#core/openapi/operations';
import { aboutTo, twilioAnswersOf, twilioVerifyError, verifyErrors } from '#core/styles/twilio-verify';
import {
  CHANNELS,
  createVerificationBody,
  TWILIO_ONLY_CHANNELS,
  updateVerificationBody,
  VERIFICATION_SID,
  verificationCheckBody,
} from '#core/styles/twilio-verify-schemas';
import { SERVICE_SID } from '#core/tenancy/verify-services';

/**
 * The Twilio Verify v2 API for the OpenAPI document: form-encoded bodies, the verification
 * resource as Twilio's, errors in Twilio's shape with Twilio's codes (TWILIO_ERRORS in
 * twilio-verify.ts, through the style's own formatter), HTTP Basic.
 */

const FORM = 'application/x-www-form-urlencoded';

const lowerSid = (prefix: string, what: string) => v.pipe(v.string(), v.regex(new RegExp(`^${prefix}[0-9a-f]{32}$`)), v.description(what));

/** Twilio writes dates in UTC to the second (2026-05-04T10:00:00Z). */
const twilioDate = v.pipe(v.string(), v.isoTimestamp(), v.description('UTC, to the second, as Twilio writes dates.'));

const channel = v.picklist(CHANNELS);
const psd2 = v.pipe(v.nullable(v.string()), v.description('The PSD2 field as sent with the create, else null.'));

const resourceIds = {
  sid: lowerSid('VE', 'The verification: VE and 32 hex digits.'),
  service_sid: lowerSid('VA', 'The ServiceSid of the path.'),
  account_sid: lowerSid('AC', "The environment's account id: the Basic-auth username."),
  to: v.pipe(v.string(), v.description('The E.164 number or the email address the code went to.')),
  channel,
};

/** The verification resource: create (201), fetch and update (200). */
export const verificationResponse = v.strictObject({
  ...resourceIds,
  status: v.pipe(
    v.picklist(['pending', 'approved', 'canceled', 'max_attempts_reached', 'expired']),
    v.description('pending until checked right (approved), canceled or approved by an update, out of tries (max_attempts_reached) or past its latest code\'s validity (expired).'),
  ),
  valid: v.pipe(v.boolean(), v.description('true once approved.')),
  date_created: twilioDate,
  date_updated: twilioDate,
  lookup: v.pipe(v.strictObject({}), v.description('Always empty: otpgate does no carrier lookup.')),
  amount: psd2,
  payee: psd2,
  send_code_attempts: v.pipe(
    v.array(
      v.strictObject({
        time: v.pipe(v.string(), v.isoTimestamp()),
        channel,
        attempt_sid: lowerSid('VL', 'The send attempt: VL and 32 hex digits.'),
      }),
    ),
    v.description('One entry per code sent within this verification; a create for the same address while it is pending adds one.'),
  ),
  sna: v.pipe(v.null(), v.description('Always null: no silent network auth.')),
  url: v.pipe(v.string(), v.url(), v.description("This resource's URL on the stack's public origin.")),
});

/** The check resource (200): approved for the right code, pending for a wrong one, which is not an error in Verify. */
export const verificationCheckResponse = v.strictObject({
  ...resourceIds,
  status: v.pipe(v.picklist(['approved', 'pending']), v.description('approved for the right code, pending (with valid false) for a wrong one.')),
  valid: v.boolean(),
  amount: psd2,
  payee: psd2,
  sna_attempts_error_codes: v.pipe(v.array(v.number()), v.maxLength(0), v.description('Always empty.')),
  date_created: twilioDate,
  date_updated: twilioDate,
});

/** The Twilio codes an answer with these otpgate codes and status may carry, in the order of TWILIO_ERRORS. */
const twilioCodesAt = (codes: readonly string[], status: number | undefined): [number, ...number[]] => {
  const found = new Set<number>();
  for (const code of codes) {
    const answers = twilioAnswersOf(code).filter((answer) => status === undefined || answer.status === status);
    if (answers.length === 0) throw new Error(`otpgate openapi: Twilio Verify answers ${code} with no Twilio code${status === undefined ? '' : ` at ${status}`}: add it to TWILIO_ERRORS in twilio-verify.ts`);
    for (const answer of answers) found.add(answer.code);
  }
  const [first, ...rest] = found;
  return [first!, ...rest];
};

/** Twilio's error shape, `{"code","message","more_info","status"}`: code is Twilio's, never otpgate's. */
export const twilioVerifyErrorBody = ({ codes, status }: ErrorBodyShape = {}) =>
  v.strictObject({
    code: codes === undefined ? v.pipe(v.number(), v.integer(), v.description("Twilio's error code (https://www.twilio.com/docs/api/errors).")) : v.picklist(twilioCodesAt(codes, status)),
    message: v.string(),
    more_info: v.pipe(v.string(), v.regex(/^https:\/\/www\.twilio\.com\/docs\/errors\/[0-9]+$/), v.description("Twilio's page for the code.")),
    status: status === undefined ? v.pipe(v.number(), v.integer(), v.description('The HTTP status.')) : v.literal(status),
  });

/** What Twilio's Messages API refused, as the SMS sender passes it on; the formatter answers what Verify answers for such a number. */
const refused = (code: number) => errors.deliveryFailed('sms', { code });

const serviceSid = {
  ServiceSid: {
    description: 'The Verify service: VA and 32 hex digits; it names one project and environment (npx otpgate verify-services create).',
    schema: v.pipe(v.string(), v.regex(SERVICE_SID)),
    example: 'VA3f0c6a1e9b7d4c2a8e5f1b0d6c9a7e42',
  },
};
const verificationSid = {
  ...serviceSid,
  Sid: { description: 'The verification: VE and 32 hex digits, as create answered it.', schema: v.pipe(v.string(), v.regex(VERIFICATION_SID)), example: 'VE4b2c8d0e6f1a3b5c7d9e2f4a6b8c0d13' },
};

const createRequest = checkedInCode(createVerificationBody, {
  Channel: v.pipe(
    channel,
    v.description(`How the code goes out. Twilio's ${TWILIO_ONLY_CHANNELS.join(', ')} answer 400 60223 (delivery channel disabled), anything else 400 60200.`),
  ),
});

const checkRequest = checkedInCode(verificationCheckBody, {
  To: v.optional(v.pipe(v.string(), v.maxLength(254), v.description('The number or address the code went to; with VerificationSid, it must be that verification\'s. One of To and VerificationSid is required.'))),
});

const EMPTY_IS_ABSENT = 'Form-encoded, with Twilio\'s parameter names; an empty value counts as absent, and parameters otpgate has no use for are accepted and ignored.';

/**
 * The catalogue's samples name the JSON styles' fields; these are the same errors as these routes
 * answer them (a form, To), so the document's examples read as a Twilio client sees them.
 */
const keyAnd = (invalidRequest: ReturnType<typeof errors.invalidRequest>) => ['missingAppKey', 'invalidAppKey', invalidRequest] as const;
const notAForm = errors.invalidRequest('The request body must be form-encoded (Content-Type: application/x-www-form-urlencoded).');
const badTo = [aboutTo(sampleErrors.invalidMobile()), aboutTo(sampleErrors.invalidEmail())];

export const twilioVerifyOpenApi: StyleDoc = {
  tag: {
    name: 'Twilio Verify',
    description:
      "Twilio Verify v2's verification routes at Twilio's paths: an app on Twilio Verify points the twilio SDK (client.verify.baseUrl) or its HTTP client at otpgate and keeps its code. HTTP Basic: the environment's account id and an APP-KEY of it. Errors in Twilio's shape with Twilio's codes.",
  },
  securitySchemes: {
    twilioBasicAuth: {
      type: 'http',
      scheme: 'basic',
      description:
        'HTTP Basic as the twilio SDK sends it: the username is the account id of the environment the ServiceSid names (AC and 32 hex digits, as npx otpgate verify-services prints it), the password an APP-KEY of that environment. Any mismatch is 401 20003.',
    },
  },
  errorSchemaName: 'TwilioError',
  formatError: twilioVerifyError,
  errorBody: twilioVerifyErrorBody,
  operations: {
    TwilioVerifyCreate: {
      summary: 'Send a code by SMS, WhatsApp or email: a new verification, or a resend within the pending one',
      description:
        "While the service has a pending verification for To, the new code belongs to it (same sid, one more send_code_attempts entry); otherwise a new verification starts. Only the latest code works. A number Twilio's Messages API refuses answers what Verify answers for it: 400 60200 (invalid), 400 60205 (landline), 403 60605 (region not enabled).",
      security: ['twilioBasicAuth'],
      pathParameters: serviceSid,
      requestBody: { schema: createRequest, contentType: FORM, description: EMPTY_IS_ABSENT },
      responses: { 201: { description: 'The code was sent.', schema: verificationResponse, name: 'TwilioVerification' } },
      errors: [
        ...keyAnd(errors.invalidRequest('To is required.', 'To')),
        ...badTo,
        verifyErrors.channelDisabled('call'),
        verifyErrors.customCodeNotEnabled(),
        'countryNotAllowed',
        refused(21614),
        refused(21408),
        ...errorGroups.send,
        verifyErrors.concurrent(),
      ],
    },
    TwilioVerifyCheck: {
      summary: 'Check a code: 200 approved, or 200 pending for a wrong one',
      description:
        "Checks the verification's latest code with the engine's attempts, limits and single use. Once the code has had its tries, every check is 429 60202 until it expires. A verification that is approved, canceled, expired or unknown is 404 20404.",
      security: ['twilioBasicAuth'],
      pathParameters: serviceSid,
      requestBody: { schema: checkRequest, contentType: FORM, description: EMPTY_IS_ABSENT },
      responses: { 200: { description: 'The code was checked.', schema: verificationCheckResponse, name: 'TwilioVerificationCheck' } },
      errors: [...keyAnd(errors.invalidRequest('Either To or VerificationSid is required.', 'To')), ...badTo, verifyErrors.notFound(), 'noPendingOtp', 'otpExpired', 'tooManyAttempts', 'tooManyFailures'],
    },
    TwilioVerifyFetch: {
      summary: 'Fetch a verification of this service',
      description: 'Kept a day after it expires. Another service\'s verification is 404 20404, as an unknown one.',
      security: ['twilioBasicAuth'],
      pathParameters: verificationSid,
      responses: { 200: { description: 'The verification.', schema: verificationResponse, name: 'TwilioVerification' } },
      // A GET with a body that is not a form is refused like any other.
      errors: [...keyAnd(notAForm), verifyErrors.notFound()],
    },
    TwilioVerifyUpdate: {
      summary: 'Cancel (or approve) a pending verification: its code is withdrawn and works nowhere',
      security: ['twilioBasicAuth'],
      pathParameters: verificationSid,
      requestBody: { schema: updateVerificationBody, contentType: FORM, description: EMPTY_IS_ABSENT },
      responses: { 200: { description: 'The verification, canceled or approved.', schema: verificationResponse, name: 'TwilioVerification' } },
      errors: [...keyAnd(errors.invalidRequest('Status must be canceled or approved.', 'Status')), verifyErrors.notFound()],
    },
  },
};
