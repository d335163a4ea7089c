/**
 * The secrets a suite handled (codes, tokens, keys, the pepper, the signing seed, the Twilio auth
 * token, phone numbers and emails), collected as they pass, and a scan of log lines for any of them.
 * Short ones (codes, numbers) are looked for as whole words, so a code is not "found" inside a
 * request id; long ones anywhere, even inside a longer word.
 */

export interface SecretLedger {
  readonly codes: Set<string>;
  /** Access and refresh tokens, APP-KEYs, the pepper, seeds, auth tokens: anything long and random. */
  readonly opaque: Set<string>;
  /** E.164 numbers; their national form is looked for too. */
  readonly phones: Set<string>;
  readonly emails: Set<string>;
}

export const newLedger = (): SecretLedger => ({ codes: new Set(), opaque: new Set(), phones: new Set(), emails: new Set() });

const PHONE_FIELDS = new Set(['mobile', 'phoneNumber', 'mobileNumber']);
const CODE_FIELDS = new Set(['otp_code', 'verificationCode', 'otp']);
const TOKEN_FIELDS = new Set(['access_token', 'refresh_token', 'token', 'refreshToken']);

/** Takes what is secret out of a request or answer body (any style's field names). */
export const recordBody = (ledger: SecretLedger, body: unknown, countryCode = '+91'): void => {
  if (typeof body !== 'object' || body === null) return;
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (typeof value === 'object') recordBody(ledger, value, countryCode);
    if (typeof value !== 'string' && typeof value !== 'number') continue;
    const text = String(value).trim();
    if (text.length < 4) continue;
    if (PHONE_FIELDS.has(name)) ledger.phones.add(text.startsWith('+') ? text.replace(/[^\d+]/g, '') : `${countryCode}${text.replace(/\D/g, '')}`);
    else if (name === 'email') ledger.emails.add(text.toLowerCase());
    else if (CODE_FIELDS.has(name)) ledger.codes.add(text);
    else if (TOKEN_FIELDS.has(name) && text.length >= 20) ledger.opaque.add(text);
  }
};

/** The lines that carry a secret, each with what it carries (the secret itself is not repeated). */
export const findSecrets = (lines: readonly string[], ledger: SecretLedger): string[] => {
  const text = lines.join('\n');
  const words = new Set(text.match(/[A-Za-z0-9]+/g) ?? []);
  const numbers = new Set(text.match(/\+?\d+/g) ?? []);
  const addresses = new Set((text.match(/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+/g) ?? []).map((a) => a.toLowerCase()));
  const found: string[] = [];
  const where = (secret: string) => lines.findIndex((line) => line.includes(secret));
  for (const code of ledger.codes) if (words.has(code)) found.push(`an OTP code, line ${where(code)}`);
  for (const phone of ledger.phones) {
    const national = phone.replace(/^\+\d{1,3}/, '');
    if (numbers.has(phone) || (national.length >= 7 && words.has(national))) found.push(`an unmasked phone number, line ${where(phone) >= 0 ? where(phone) : where(national)}`);
  }
  for (const email of ledger.emails) if (addresses.has(email)) found.push(`an unmasked email, line ${where(email)}`);
  for (const secret of ledger.opaque) if (secret.length >= 16 && text.includes(secret)) found.push(`a token, key or secret (${secret.slice(0, 4)}…), line ${where(secret)}`);
  return found;
};
