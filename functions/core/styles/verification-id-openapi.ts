import * as v from 'valibot';
import { checkedInCode, errorCode, errorGroups, submittedCodeField, uuidString, type ErrorBodyShape, type StyleDoc } from '#core/openapi/operations';
import { verificationIdError } from '#core/styles/verification-id';
import { authenticateBody, ID_TYPE, idTypeBody, sendBody } from '#core/styles/verification-id-schemas';

/** The verification-id API (seed 003) for the OpenAPI document: its envelope, bodies, answers and errors. */

const success = <E extends v.ObjectEntries>(data: E) =>
  v.strictObject({
    status: v.literal('success'),
    traceId: v.pipe(v.string(), v.description('The request id; every log line of the request carries it as requestId.')),
    data: v.strictObject(data),
  });

export const sendVerificationCodeResponse = success({ verificationId: uuidString });

export const userAuthenticateResponse = success({
  token: v.pipe(v.string(), v.description('The ES256 access token (JWT): same JWKS and issuer as the mobile/email style; sub = publicUserId.')),
  expiresAtIso8601: v.pipe(v.string(), v.isoTimestamp(), v.description("The token's exp (the project's verificationTokenTtlSeconds, 2 hours unless changed).")),
  publicUserId: uuidString,
  refreshToken: v.pipe(v.string(), v.startsWith('ogr_'), v.description("otpgate's addition: exchanged once at /auth/{projectId}/{environment}/token/refresh for new tokens.")),
});

export const verificationIdErrorBody = ({ codes }: ErrorBodyShape = {}) =>
  v.strictObject({
    status: v.literal('error'),
    traceId: v.string(),
    error: v.strictObject({
      code: errorCode(codes),
      message: v.string(),
      field: v.optional(v.string()),
      attemptsRemaining: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      retryAfter: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
    }),
  });

const authenticateRequest = v.intersect([
  checkedInCode(idTypeBody, { idType: v.pipe(v.literal(ID_TYPE), v.description('The only kind of identity this API verifies; any other value is 400 invalid_request.')) }),
  checkedInCode(authenticateBody, { verificationCode: submittedCodeField('verificationCode') }),
]);

const keyAndBody = errorGroups.keyAndBody;

export const verificationIdOpenApi: StyleDoc = {
  tag: {
    name: 'Verification id (SMS)',
    description: 'POST /v1/send-verification-code and /v1/user/authenticate with the x-api-key header, which alone picks the project and environment (seed 003). No signup: the first successful authentication creates the user.',
  },
  errorSchemaName: 'VerificationIdError',
  formatError: verificationIdError,
  errorBody: verificationIdErrorBody,
  operations: {
    SendVerificationCode: {
      summary: 'Text a code to a phone number in any formatting',
      description: "A number without a country code is in the project's default country. The code replaces any still pending for the number.",
      security: ['apiKey'],
      requestBody: { schema: sendBody },
      responses: { 200: { description: 'The code was sent.', schema: sendVerificationCodeResponse } },
      errors: [...keyAndBody, ...errorGroups.phone, ...errorGroups.send],
    },
    UserAuthenticate: {
      summary: 'Check the code texted to a number: returns a token, creating the user on the first success',
      description: 'No verificationId is needed (the code pending for the number is checked); a client that sends one back has its tries spent only on that very code.',
      security: ['apiKey'],
      requestBody: { schema: authenticateRequest },
      responses: { 200: { description: 'The code was right.', schema: userAuthenticateResponse } },
      errors: [...keyAndBody, ...errorGroups.phone, ...errorGroups.verify, 'userNotFound'],
    },
  },
};
