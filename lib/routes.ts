/**
 * The route table: the one list of otpgate's HTTP routes. The CDK stack builds one function and
 * one API Gateway route per entry; the local server serves the same entries with the same
 * handlers. Pure data: importing it must not pull in aws-cdk-lib or any handler code.
 */

/** What a route's function is allowed to touch; the stack turns each into a narrow IAM grant. */
export type Capability =
  | 'table:read' // GetItem/Query on the table
  | 'table:write' // plus PutItem/UpdateItem/DeleteItem/TransactWriteItems
  | 'secret:pepper' // read the OTP pepper secret
  | 'secret:signing-key' // read the token signing key secret
  | 'send:sms' // read the Twilio secret
  | 'send:whatsapp' // the same Twilio secret (WhatsApp goes through the same account)
  | 'send:email'; // ses:SendEmail from the configured sender only

export interface Route {
  /** Stable id: the CDK construct id and the function's name suffix. */
  readonly id: string;
  readonly method: 'GET' | 'POST';
  /** API Gateway path template; `{projectId}`, `{environment}`, `{otpId}`, `{ServiceSid}` and `{Sid}` are path parameters (the verification-id style has none). */
  readonly path: string;
  /** The handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  readonly needs: readonly Capability[];
}

const tenantBase = '/auth/{projectId}/{environment}';

const sendsSms: Capability[] = ['table:write', 'secret:pepper', 'send:sms'];
const sendsEmail: Capability[] = ['table:write', 'secret:pepper', 'send:email'];
const verifies: Capability[] = ['table:write', 'secret:pepper', 'secret:signing-key'];
// The seeds' verify example posts to the login URL with otp_code, so login verifies (and signs) too.
const sendsSmsOrVerifies: Capability[] = [...sendsSms, 'secret:signing-key'];
const sendsEmailOrVerifies: Capability[] = [...sendsEmail, 'secret:signing-key'];

// One parameter name for both: API Gateway rejects sibling routes naming the same path position differently.
const whatsappBase = '/otp/{otpId}';
// Twilio Verify's paths, exactly (HTTP API paths are case-sensitive); one name per position, as above.
const verifyBase = '/v2/Services/{ServiceSid}';
// Refresh and logout touch sessions and keys only, never codes: no pepper.
const sessions: Capability[] = ['table:write', 'secret:signing-key'];

export const routes: readonly Route[] = [
  { id: 'MobileOtpSignup', method: 'POST', path: `${tenantBase}/mobile-otp-signup`, entry: 'functions/mobile-otp-signup.ts', needs: sendsSms },
  { id: 'MobileOtpLogin', method: 'POST', path: `${tenantBase}/mobile-otp-login`, entry: 'functions/mobile-otp-login.ts', needs: sendsSmsOrVerifies },
  { id: 'MobileOtpVerify', method: 'POST', path: `${tenantBase}/mobile-otp-verify`, entry: 'functions/mobile-otp-verify.ts', needs: verifies },
  { id: 'EmailOtpSignup', method: 'POST', path: `${tenantBase}/email-otp-signup`, entry: 'functions/email-otp-signup.ts', needs: sendsEmail },
  { id: 'EmailOtpLogin', method: 'POST', path: `${tenantBase}/email-otp-login`, entry: 'functions/email-otp-login.ts', needs: sendsEmailOrVerifies },
  { id: 'EmailOtpVerify', method: 'POST', path: `${tenantBase}/email-otp-verify`, entry: 'functions/email-otp-verify.ts', needs: verifies },
  // The verification-id style: no project in the path, the x-api-key alone picks it.
  { id: 'SendVerificationCode', method: 'POST', path: '/v1/send-verification-code', entry: 'functions/send-verification-code.ts', needs: sendsSms },
  { id: 'UserAuthenticate', method: 'POST', path: '/v1/user/authenticate', entry: 'functions/user-authenticate.ts', needs: verifies },
  { id: 'WhatsappSendOtp', method: 'POST', path: `${whatsappBase}/sendOTP`, entry: 'functions/whatsapp-send-otp.ts', needs: ['table:write', 'secret:pepper', 'send:whatsapp'] },
  { id: 'WhatsappVerifyOtp', method: 'POST', path: `${whatsappBase}/verifyOTP`, entry: 'functions/whatsapp-verify-otp.ts', needs: ['table:write', 'secret:pepper'] },
  // Twilio Verify v2: HTTP Basic (the service's account id and an APP-KEY); the ServiceSid picks the project and environment.
  { id: 'TwilioVerifyCreate', method: 'POST', path: `${verifyBase}/Verifications`, entry: 'functions/twilio-verify-create.ts', needs: ['table:write', 'secret:pepper', 'send:sms', 'send:whatsapp', 'send:email'] },
  { id: 'TwilioVerifyCheck', method: 'POST', path: `${verifyBase}/VerificationCheck`, entry: 'functions/twilio-verify-check.ts', needs: ['table:write', 'secret:pepper'] },
  { id: 'TwilioVerifyFetch', method: 'GET', path: `${verifyBase}/Verifications/{Sid}`, entry: 'functions/twilio-verify-fetch.ts', needs: ['table:read'] },
  // A cancel withdraws the pending code (a conditional write on the identifier's item); it never reads the pepper.
  { id: 'TwilioVerifyUpdate', method: 'POST', path: `${verifyBase}/Verifications/{Sid}`, entry: 'functions/twilio-verify-update.ts', needs: ['table:write'] },
  { id: 'TokenRefresh', method: 'POST', path: `${tenantBase}/token/refresh`, entry: 'functions/token-refresh.ts', needs: sessions },
  { id: 'Logout', method: 'POST', path: `${tenantBase}/logout`, entry: 'functions/logout.ts', needs: sessions },
  { id: 'Jwks', method: 'GET', path: `${tenantBase}/.well-known/jwks.json`, entry: 'functions/jwks.ts', needs: ['table:read', 'secret:signing-key'] },
  { id: 'OpenidConfiguration', method: 'GET', path: `${tenantBase}/.well-known/openid-configuration`, entry: 'functions/openid-configuration.ts', needs: ['table:read'] },
];
