import * as v from 'valibot';
import { coreErrorFormat } from '#core/http/route';
import { checkedInCode, coreErrorBody, coreTokenFields, errorGroups, submittedCodeField, uuidString, type ErrorName, type OperationDoc, type StyleDoc } from '#core/openapi/operations';
import { emailBody, emailVerifyBody, mobileBody, mobileVerifyBody } from '#core/styles/mobile-email-schemas';

/** The mobile/email OTP API (seeds 000-002) for the OpenAPI document: its bodies, answers and errors. */

const mobileVerifyRequest = checkedInCode(mobileVerifyBody, { otp_code: submittedCodeField('otp_code') });
const emailVerifyRequest = checkedInCode(emailVerifyBody, { otp_code: submittedCodeField('otp_code') });

const mobileAnswer = {
  user_id: uuidString,
  mobile: v.pipe(v.string(), v.description('The national number, as in the documents.')),
  country_code: v.pipe(v.string(), v.regex(/^\+[1-9][0-9]{0,2}$/), v.description('The calling code, e.g. "+91".')),
};
const emailAnswer = {
  user_id: uuidString,
  email: v.pipe(v.string(), v.description('The address, trimmed and lower-cased.')),
};

export const mobileStartResponse = v.strictObject(mobileAnswer);
export const emailStartResponse = v.strictObject(emailAnswer);
export const mobileVerifyResponse = v.strictObject({ ...mobileAnswer, ...coreTokenFields });
export const emailVerifyResponse = v.strictObject({ ...emailAnswer, ...coreTokenFields });

const SIGNUP_NOTE = 'The address is created as a user and a code is sent; the code replaces any still pending for it.';
const LOGIN_NOTE =
  'A body that carries `otp_code` (not null, not "") is treated as the verify it means, as the documents\' own verify example posts to this URL: the answer and errors are those of verify, and nothing is sent.';

const sendErrors = (channel: 'sms' | 'email'): ErrorName[] =>
  // Email has no spend cap (SES costs next to nothing and has its own quota).
  errorGroups.send.filter((name) => channel === 'sms' || name !== 'budgetExceeded');

const keyAndBody = errorGroups.keyAndBody;

const mobileOps: Record<string, OperationDoc> = {
  MobileOtpSignup: {
    summary: 'Sign up with a phone number: creates the user and texts a code',
    description: `${SIGNUP_NOTE} \`mobile\` may be national (with \`country_code\`, or the project's default country) or international.`,
    security: ['appKey'],
    requestBody: { schema: mobileBody, name: 'MobileRequest' },
    responses: { 201: { description: 'The user was created and the code sent.', schema: mobileStartResponse, name: 'MobileStartResponse' } },
    errors: [...keyAndBody, ...errorGroups.phone, 'userExists', ...sendErrors('sms')],
  },
  MobileOtpLogin: {
    summary: 'Log in with a phone number: texts a new code (or verifies one, see below)',
    description: LOGIN_NOTE,
    security: ['appKey'],
    requestBody: { schema: v.union([mobileVerifyRequest, mobileBody]), description: 'Either a login body or, as the documents\' example does, a verify body.' },
    responses: {
      200: {
        description: 'The code was sent (a login body), or the code was right (a body with otp_code): then the token fields are present.',
        schema: v.union([mobileStartResponse, mobileVerifyResponse]),
      },
    },
    errors: [...keyAndBody, ...errorGroups.phone, 'userNotFound', ...sendErrors('sms'), ...errorGroups.verify],
  },
  MobileOtpVerify: {
    summary: 'Verify a texted code: returns the access and refresh tokens',
    security: ['appKey'],
    requestBody: { schema: mobileVerifyRequest, name: 'MobileVerifyRequest' },
    responses: { 200: { description: 'The code was right; a new session starts.', schema: mobileVerifyResponse, name: 'MobileVerifyResponse' } },
    errors: [...keyAndBody, ...errorGroups.phone, ...errorGroups.verify, 'userNotFound'],
  },
};

const emailOps: Record<string, OperationDoc> = {
  EmailOtpSignup: {
    summary: 'Sign up with an email address: creates the user and emails a code',
    description: `${SIGNUP_NOTE} Addresses are trimmed and lower-cased.`,
    security: ['appKey'],
    requestBody: { schema: emailBody, name: 'EmailRequest' },
    responses: { 201: { description: 'The user was created and the code sent.', schema: emailStartResponse, name: 'EmailStartResponse' } },
    errors: [...keyAndBody, 'invalidEmail', 'userExists', ...sendErrors('email')],
  },
  EmailOtpLogin: {
    summary: 'Log in with an email address: emails a new code (or verifies one, see below)',
    description: LOGIN_NOTE,
    security: ['appKey'],
    requestBody: { schema: v.union([emailVerifyRequest, emailBody]), description: 'Either a login body or, as the documents\' example does, a verify body.' },
    responses: {
      200: {
        description: 'The code was sent (a login body), or the code was right (a body with otp_code): then the token fields are present.',
        schema: v.union([emailStartResponse, emailVerifyResponse]),
      },
    },
    errors: [...keyAndBody, 'invalidEmail', 'userNotFound', ...sendErrors('email'), ...errorGroups.verify],
  },
  EmailOtpVerify: {
    summary: 'Verify an emailed code: returns the access and refresh tokens',
    security: ['appKey'],
    requestBody: { schema: emailVerifyRequest, name: 'EmailVerifyRequest' },
    responses: { 200: { description: 'The code was right; a new session starts.', schema: emailVerifyResponse, name: 'EmailVerifyResponse' } },
    errors: [...keyAndBody, 'invalidEmail', ...errorGroups.verify, 'userNotFound'],
  },
};

export const mobileEmailOpenApi: StyleDoc = {
  tag: {
    name: 'Mobile and email OTP',
    description: 'Signup, login and verify under /auth/{projectId}/{environment}/ with the APP-KEY header (seeds 000-002).',
  },
  errorSchemaName: 'CoreError',
  formatError: coreErrorFormat,
  errorBody: coreErrorBody,
  operations: { ...mobileOps, ...emailOps },
};
