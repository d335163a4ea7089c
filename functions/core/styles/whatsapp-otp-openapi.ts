import { STATUS_CODES } from 'node:http';
import * as v from 'valibot';
import { errorCode, errorGroups, uuidString, type ErrorBodyShape, type StyleDoc } from '#core/openapi/operations';
import { whatsappErrorFormat } from '#core/styles/whatsapp-otp';
import { sendOtpBody, verifyOtpBody } from '#core/styles/whatsapp-otp-schemas';
import { whatsappConfigUidSchema } from '#core/tenancy/settings';

/** The WhatsApp OTP API (seed 004) for the OpenAPI document: its bodies, answers and Spring-shaped errors. */

export const whatsappOtpResponse = v.strictObject({
  id: v.pipe(uuidString, v.description('The otp_uid: the id verifyOTP takes in its path.')),
  message: v.literal('success'),
});

export const whatsappErrorBody = ({ codes, status }: ErrorBodyShape = {}) =>
  v.strictObject({
    timestamp: v.pipe(v.string(), v.isoTimestamp()),
    status: status === undefined ? v.pipe(v.number(), v.integer(), v.description('The HTTP status.')) : v.literal(status),
    error: status === undefined ? v.pipe(v.string(), v.description("The status's reason phrase.")) : v.literal(STATUS_CODES[status] ?? 'Error'),
    code: errorCode(codes),
    message: v.string(),
    attemptsRemaining: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
    path: v.pipe(v.string(), v.description("The request's path.")),
  });

const keyAndBody = errorGroups.keyAndBody;

export const whatsappOtpOpenApi: StyleDoc = {
  tag: {
    name: 'WhatsApp OTP',
    description: 'POST /otp/{otp_config_uid}/sendOTP and /otp/{otp_uid}/verifyOTP with the X-API-KEY header, which alone picks the project and environment (seed 004). No users and no token: verify says whether the code is right.',
  },
  errorSchemaName: 'WhatsappError',
  formatError: whatsappErrorFormat,
  errorBody: whatsappErrorBody,
  // The formatter stamps each error with the time it is made.
  stableExample: (body) => ({ ...body, timestamp: '2024-10-22T11:28:35.911Z' }),
  operations: {
    WhatsappSendOtp: {
      summary: 'Send a code over WhatsApp with one of the project\'s WhatsApp OTP configurations',
      description: 'The code goes to whatsapp:<E.164> as the configuration\'s Content template (the code as variable {{1}}) when it names one, else as text. `name` is accepted and not used.',
      security: ['apiKey'],
      pathParameters: {
        otpId: { description: "The otp_config_uid: one of the project's WhatsApp OTP configurations (a lower-case UUID).", schema: whatsappConfigUidSchema, example: '5a706684-851f-3a27-b0d1-284155d8f862' },
      },
      requestBody: { schema: sendOtpBody },
      responses: { 201: { description: 'The code was sent; `id` is the otp_uid.', schema: whatsappOtpResponse, name: 'WhatsappOtpResponse' } },
      errors: [...keyAndBody, 'otpConfigNotFound', 'invalidMobile', 'countryNotAllowed', ...errorGroups.send],
    },
    WhatsappVerifyOtp: {
      summary: 'Check a WhatsApp code by the id sendOTP returned',
      description: 'The id counts only with the number it was sent to and a key of the project and environment it was sent from; any other combination is 404 and spends no try.',
      security: ['apiKey'],
      pathParameters: {
        otpId: { description: 'The otp_uid: the `id` sendOTP returned.', schema: whatsappConfigUidSchema, example: 'fcc641e1-3b2a-4c8e-9d1f-6a7b8c9d0e1f' },
      },
      requestBody: { schema: verifyOtpBody },
      responses: { 200: { description: 'The code was right; it cannot be used again.', schema: whatsappOtpResponse, name: 'WhatsappOtpResponse' } },
      errors: [...keyAndBody, 'invalidMobile', 'countryNotAllowed', ...errorGroups.verify],
    },
  },
};
