import { createHmac, randomInt as cryptoRandomInt, timingSafeEqual } from 'node:crypto';

/** Returns an integer in [0, maxExclusive); crypto.randomInt by default. Injected so tests can pin codes. */
export type RandomInt = (maxExclusive: number) => number;

export const secureRandomInt: RandomInt = (maxExclusive) => cryptoRandomInt(0, maxExclusive);

/** NIST SP 800-63B-4: an out-of-band code has at least about 20 bits, i.e. 6 digits. */
export const MIN_CODE_LENGTH = 6;
export const MAX_CODE_LENGTH = 10;

/** A code of `length` decimal digits, each drawn uniformly from 0-9 (randomInt's max is exclusive: 10, not 9). */
export const generateCode = (length: number, randomInt: RandomInt = secureRandomInt): string => {
  if (!Number.isInteger(length) || length < MIN_CODE_LENGTH || length > MAX_CODE_LENGTH) {
    throw new RangeError(`otpgate: code length must be ${MIN_CODE_LENGTH}-${MAX_CODE_LENGTH}, got ${length}`);
  }
  let code = '';
  for (let i = 0; i < length; i += 1) code += String(randomInt(10));
  return code;
};

/**
 * HMAC-SHA256 of the code under the pepper, bound to the challenge it belongs to, so a stored
 * hash is useless for any other user, tenant or challenge and reveals nothing without the pepper.
 */
export const hashCode = (pepper: Uint8Array, binding: string, code: string): string =>
  createHmac('sha256', pepper).update(binding).update('\0').update(code).digest('base64url');

export const codeMatches = (pepper: Uint8Array, binding: string, code: string, storedHash: string): boolean => {
  const candidate = Buffer.from(hashCode(pepper, binding, code));
  const stored = Buffer.from(storedHash);
  return candidate.length === stored.length && timingSafeEqual(candidate, stored);
};

/**
 * The documented APIs type otp_code as an integer, which drops leading zeros: 012345 arrives as
 * 12345. An integer is therefore left-padded to the code length; a string must be the digits as sent.
 * Returns undefined when the value cannot be a code of this length.
 */
export const normaliseSubmittedCode = (value: unknown, length: number): string | undefined => {
  let digits: string;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) return undefined;
    digits = String(value).padStart(length, '0');
  } else if (typeof value === 'string') {
    digits = value.trim();
  } else {
    return undefined;
  }
  return digits.length === length && /^[0-9]+$/.test(digits) ? digits : undefined;
};
