import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Answer, Stack, StackProject } from './stack';

/** The API's flows over HTTP against a Stack, in each style's own shapes: what a client app does. */

// Drawn at random from 10^8 numbers, never twice in one process: a soak run draws thousands, and a
// birthday collision (about 1 in 6 runs at 6,000 numbers) would be a second signup of a registered number.
const issuedMobiles = new Set<string>();
export const uniqueMobile = (): string => {
  for (;;) {
    const mobile = `98${String(randomBytes(4).readUInt32BE() % 100_000_000).padStart(8, '0')}`;
    if (!issuedMobiles.has(mobile)) {
      issuedMobiles.add(mobile);
      return mobile;
    }
  }
};
export const uniqueEmail = (): string => `user-${randomBytes(6).toString('hex')}@example.com`;

export const flows = (stack: Stack, p: StackProject) => {
  const base = `/auth/${p.projectId}/${p.environment}`;
  const key = { 'APP-KEY': p.appKey };
  const apiKey = { 'x-api-key': p.appKey };
  return {
    base,
    signupMobile: (mobile: string) => stack.request('POST', `${base}/mobile-otp-signup`, { headers: key, body: { country_code: '+91', mobile } }),
    loginMobile: (mobile: string) => stack.request('POST', `${base}/mobile-otp-login`, { headers: key, body: { mobile } }),
    verifyMobile: (mobile: string, code: string) => stack.request('POST', `${base}/mobile-otp-verify`, { headers: key, body: { mobile, otp_code: code } }),
    signupEmail: (email: string) => stack.request('POST', `${base}/email-otp-signup`, { headers: key, body: { email } }),
    loginEmail: (email: string) => stack.request('POST', `${base}/email-otp-login`, { headers: key, body: { email } }),
    verifyEmail: (email: string, code: string) => stack.request('POST', `${base}/email-otp-verify`, { headers: key, body: { email, otp_code: code } }),
    refresh: (refreshToken: string) => stack.request('POST', `${base}/token/refresh`, { headers: key, body: { refresh_token: refreshToken } }),
    logout: (accessToken: string) => stack.request('POST', `${base}/logout`, { headers: { ...key, authorization: `Bearer ${accessToken}` }, body: {} }),
    jwks: () => stack.request('GET', `${base}/.well-known/jwks.json`),
    v1Send: (mobile: string) => stack.request('POST', '/v1/send-verification-code', { headers: apiKey, body: { phoneNumber: `+91${mobile}` } }),
    v1Authenticate: (mobile: string, code: string, verificationId?: string) =>
      stack.request('POST', '/v1/user/authenticate', {
        headers: apiKey,
        body: { idType: 'smsVerificationCode', phoneNumber: `+91${mobile}`, verificationCode: code, ...(verificationId === undefined ? {} : { verificationId }) },
      }),
    whatsappSend: (mobile: string) => stack.request('POST', `/otp/${p.whatsappConfigUid}/sendOTP`, { headers: { 'X-API-KEY': p.appKey }, body: { name: 'Ana', mobileNumber: mobile, countryCode: '+91' } }),
    whatsappVerify: (otpId: string, mobile: string, otp: string) =>
      stack.request('POST', `/otp/${otpId}/verifyOTP`, { headers: { 'X-API-KEY': p.appKey }, body: { otp, mobileNumber: mobile, countryCode: '+91' } }),
    /** The access token's claims, checked against this project's JWKS as a relying party would. */
    verifyToken: async (token: string) =>
      (await jwtVerify(token, createRemoteJWKSet(new URL(`${stack.origin}${base}/.well-known/jwks.json`)), { issuer: `${stack.origin}${base}`, audience: p.projectId })).payload,
  };
};

/**
 * A client that does what a 503 asks: waits its Retry-After and tries again (at most `tries` times).
 * On a quiet machine no request here gets a 503; on a busy one the local stack, one process and one
 * DynamoDB Local for every request, may run out of a request's time, and says so.
 */
export const retrying = async (send: () => Promise<Answer>, tries = 5, seen?: { retries: number }): Promise<Answer> => {
  for (let attempt = 1; ; attempt += 1) {
    const answer = await send();
    if (answer.status !== 503 || attempt >= tries) return answer;
    if (seen) seen.retries += 1;
    await new Promise((resolve) => setTimeout(resolve, Number(answer.headers['retry-after'] ?? 1) * 1000));
  }
};

/** The machine-readable code of an error answer, whatever the style's envelope. */
export const errorCode = (answer: Answer): string | undefined => answer.body?.error?.code ?? answer.body?.code;

/** A one-line account of an answer, for failure messages and the report. */
export const show = (answer: Answer): string => `${answer.status} ${errorCode(answer) ?? ''} (${Math.round(answer.ms)} ms)`.replace('  ', ' ');
