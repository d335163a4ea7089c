import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import * as v from 'valibot';
import { errors } from '#core/errors';

/** What identifies a user: a phone number (however the code reaches it) or an email address. */
export type IdentityKind = 'phone' | 'email';

/** How a code travels. A phone identity can be reached by SMS or WhatsApp; it stays one identity. */
export type DeliveryChannel = 'sms' | 'whatsapp' | 'email';

/**
 * Who a code is for: the kind and the normalised address (E.164 or lower-cased email). Users,
 * pending codes and (later) limits are keyed by identity, so one phone number is one user across
 * every API style and channel of a project and environment.
 */
export interface Identity {
  readonly kind: IdentityKind;
  readonly address: string;
}

export const phoneIdentity = (e164: string): Identity => ({ kind: 'phone', address: e164 });
export const emailIdentity = (address: string): Identity => ({ kind: 'email', address });

export interface Phone {
  readonly e164: string;
  readonly nationalNumber: string;
  readonly countryCallingCode: string;
  readonly country: string | undefined;
}

const CALLING_CODE = /^\+?([1-9][0-9]{0,2})$/;

/**
 * Validates and normalises a mobile number to E.164. `mobile` may be national ("9876543211",
 * with country_code or the project's default) or international ("+919876543211" / "00919876543211").
 */
export const normalisePhone = (
  input: { mobile: string; countryCode?: string | undefined },
  policy: { defaultCountryCode: string; allowedCountries: readonly string[] },
): Phone => {
  const raw = input.mobile.trim().replace(/[\s().\-/]/g, '');
  if (raw === '') throw errors.invalidMobile('mobile is required.');
  const international = raw.startsWith('+') || raw.startsWith('00');

  let callingCode: string | undefined;
  if (input.countryCode !== undefined && input.countryCode.trim() !== '') {
    const match = CALLING_CODE.exec(input.countryCode.trim());
    if (!match) throw errors.invalidMobile('country_code must look like "+91".', 'country_code');
    callingCode = match[1];
  }
  const fallback = CALLING_CODE.exec(policy.defaultCountryCode)?.[1];

  const text = raw.startsWith('00') ? `+${raw.slice(2)}` : raw;
  if (!/^\+?[0-9]{4,17}$/.test(text)) throw errors.invalidMobile('mobile must be a phone number: 4 to 17 digits, optionally after a leading +.');
  const phone = international
    ? parsePhoneNumberFromString(text)
    : parsePhoneNumberFromString(text, { defaultCallingCode: callingCode ?? fallback });

  if (!phone || !phone.isValid()) throw errors.invalidMobile('mobile is not a valid phone number for its country.');
  if (international && callingCode !== undefined && phone.countryCallingCode !== callingCode) {
    throw errors.invalidMobile('country_code does not match the country of mobile.', 'country_code');
  }
  if (policy.allowedCountries.length > 0 && !policy.allowedCountries.includes(phone.country as CountryCode)) {
    throw errors.invalidMobile('Numbers from this country are not enabled for this project.');
  }
  return {
    e164: phone.number,
    nationalNumber: phone.nationalNumber,
    countryCallingCode: `+${phone.countryCallingCode}`,
    country: phone.country,
  };
};

const emailSchema = v.pipe(v.string(), v.trim(), v.toLowerCase(), v.maxLength(254), v.email());

/** Trims and lower-cases the whole address: users type their email in any case and expect one account. */
export const normaliseEmail = (value: string): string => {
  const result = v.safeParse(emailSchema, value);
  if (!result.success) throw errors.invalidEmail('email is not a valid email address.');
  return result.output;
};
