import { parsePhoneNumberFromString, type NumberType } from 'libphonenumber-js/max';
import * as v from 'valibot';
import { errors } from '#core/errors';

/** What identifies a user: a phone number (however the code reaches it) or an email address. */
export type IdentityKind = 'phone' | 'email';

/** How a code travels. A phone identity can be reached by SMS or WhatsApp; it stays one identity. */
export type DeliveryChannel = 'sms' | 'whatsapp' | 'email';

/**
 * Who a code is for: the kind and the normalised address (E.164 or lower-cased email). Users,
 * pending codes and limits are keyed by identity, so one phone number is one user across every
 * API style and channel of a project and environment.
 */
export interface Identity {
  readonly kind: IdentityKind;
  /** The key: users, codes and limits are stored under it. */
  readonly address: string;
  /** Where the message goes, when that is not the key: a Gmail address as the user typed it. */
  readonly deliverTo?: string;
}

export const phoneIdentity = (e164: string): Identity => ({ kind: 'phone', address: e164 });

const GMAIL_DOMAINS: ReadonlySet<string> = new Set(['gmail.com', 'googlemail.com']);

/**
 * The identity key of a (normalised) email address. Gmail ignores dots in the local part and
 * everything from a "+", and googlemail.com is gmail.com, so every such form is one inbox: they
 * get one key, one user and one set of limits (otherwise a.b+1@gmail.com, ab+2@gmail.com... each
 * get their own send budget). Other domains keep their "+tags" and dots: whether they are aliases
 * is the mail server's choice, and for many they are separate mailboxes.
 */
export const emailKey = (address: string): string => {
  const at = address.lastIndexOf('@');
  const domain = address.slice(at + 1);
  if (at < 0 || !GMAIL_DOMAINS.has(domain)) return address;
  const local = address.slice(0, at).split('+', 1)[0]!.replaceAll('.', '');
  // A local part that is only dots or a tag is no Gmail account: it keeps its own key.
  return local === '' ? address : `${local}@gmail.com`;
};

/** An email identity: keyed by emailKey, delivered to the address as given. */
export const emailIdentity = (address: string): Identity => {
  const key = emailKey(address);
  return key === address ? { kind: 'email', address } : { kind: 'email', address: key, deliverTo: address };
};

/** The address a message to this identity goes to. */
export const deliveryAddress = (identity: Identity): string => identity.deliverTo ?? identity.address;

export interface Phone {
  readonly e164: string;
  readonly nationalNumber: string;
  readonly countryCallingCode: string;
  readonly country: string | undefined;
}

const CALLING_CODE = /^\+?([1-9][0-9]{0,2})$/;

/**
 * Number types that cannot receive a code by SMS or WhatsApp, or that SMS pumping uses to make
 * money (premium rate, shared cost, personal numbers such as the UK's 070 forwarding numbers,
 * which are priced like premium rate), or that anyone can rent by the thousand without a SIM
 * (VoIP): refused before anything is sent. Numbers whose type the metadata cannot tell apart
 * (FIXED_LINE_OR_MOBILE, as in North America) are let through.
 */
const UNSENDABLE_TYPES: ReadonlySet<NumberType> = new Set<NumberType>([
  'PREMIUM_RATE',
  'TOLL_FREE',
  'SHARED_COST',
  'FIXED_LINE',
  'PAGER',
  'UAN',
  'VOICEMAIL',
  'PERSONAL_NUMBER',
  'VOIP',
]);

export interface PhonePolicy {
  readonly defaultCountryCode: string;
  /** Regions numbers may belong to; ["*"] for every region. */
  readonly allowedCountries: readonly string[];
  /** The project's live test numbers (E.164): accepted as they are, even where no real number could be. */
  readonly testIdentifiers?: Readonly<Record<string, string>>;
}

/**
 * Validates and normalises a mobile number to E.164. `mobile` may be national ("9876543211",
 * with country_code or the project's default) or international ("+919876543211" / "00919876543211").
 * Uses libphonenumber's full metadata, so the number's type (mobile, premium rate...) is known.
 */
export const normalisePhone = (input: { mobile: string; countryCode?: string | undefined }, policy: PhonePolicy): Phone => {
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
  let phone;
  try {
    phone = international ? parsePhoneNumberFromString(text) : parsePhoneNumberFromString(text, { defaultCallingCode: callingCode ?? fallback });
  } catch (error) {
    // The parser answers undefined for a bad number, but throws for a calling code no country has ("+13"): the client's mistake, not ours.
    throw Object.assign(errors.invalidMobile('country_code is not a country calling code.', 'country_code'), { cause: error });
  }

  const result = (p: NonNullable<typeof phone>): Phone => ({
    e164: p.number,
    nationalNumber: p.nationalNumber,
    countryCallingCode: `+${p.countryCallingCode}`,
    country: p.country,
  });
  // A listed test number (e.g. a fictional +1 555 one) is the project's own choice: no further checks.
  if (phone && policy.testIdentifiers?.[phone.number] !== undefined) return result(phone);
  if (!phone || !phone.isValid()) throw errors.invalidMobile('mobile is not a valid phone number for its country.');
  if (international && callingCode !== undefined && phone.countryCallingCode !== callingCode) {
    throw errors.invalidMobile('country_code does not match the country of mobile.', 'country_code');
  }
  if (!policy.allowedCountries.includes('*') && !policy.allowedCountries.includes(phone.country ?? '')) throw errors.countryNotAllowed();
  const type = phone.getType();
  if (type !== undefined && UNSENDABLE_TYPES.has(type)) {
    throw errors.invalidMobile('mobile is not a number that can receive a code (premium-rate, toll-free, personal, VoIP and landline numbers are refused).');
  }
  return result(phone);
};

const emailSchema = v.pipe(v.string(), v.trim(), v.toLowerCase(), v.maxLength(254), v.email());

/** Trims and lower-cases the whole address: users type their email in any case and expect one account. */
export const normaliseEmail = (value: string): string => {
  const result = v.safeParse(emailSchema, value);
  if (!result.success) throw errors.invalidEmail('email is not a valid email address.');
  return result.output;
};
