import type { OutgoingCode } from '#core/otp/engine';
import type { ProjectSettings } from '#core/tenancy/settings';

/**
 * The words around a code. One place, so SMS, email and WhatsApp say the same thing; a project may
 * replace each text with its own template (settings smsTemplate, whatsappTemplate, emailSubject).
 */

/** Fills {code}, {app} and {minutes} in one pass, so a value that itself contains braces stays as it is. */
const fill = (template: string, { code, settings }: OutgoingCode): string => {
  const values: Record<string, string> = { code, app: settings.appName, minutes: String(wholeMinutes(settings.otpTtlSeconds)) };
  return template.replace(/\{(code|app|minutes)\}/g, (_, name: string) => values[name] ?? '');
};

export const smsText = (message: OutgoingCode): string => {
  const { code, settings, appHash } = message;
  const text = settings.smsTemplate
    ? fill(settings.smsTemplate, message)
    : `${code} is your ${settings.appName} code. It expires in ${minutes(settings.otpTtlSeconds)}. Do not share it.`;
  // WebOTP (browsers) and the origin-bound SMS format: the last line binds the code to the site.
  const withWebOtp = settings.webOtpDomain ? `${text}\n\n@${settings.webOtpDomain} #${code}` : text;
  // Android's SMS Retriever hands the message to the app only when it ends with the app's hash (a
  // Twilio Verify AppHash, per request): it goes last, after a WebOTP line if the project has one.
  return appHash === undefined ? withWebOtp : `${withWebOtp}\n${appHash}`;
};

/** The text of a WhatsApp code message when no approved Content template is configured. */
export const whatsappText = (message: OutgoingCode): string => {
  const { code, settings } = message;
  return settings.whatsappTemplate
    ? fill(settings.whatsappTemplate, message)
    : `${code} is your ${settings.appName} verification code. For your security, do not share this code.`;
};

export const emailContent = (message: OutgoingCode) => {
  const { code, settings } = message;
  return {
    subject: settings.emailSubject ? fill(settings.emailSubject, message) : `Your ${settings.appName} sign-in code`,
    text: [
      `Your ${settings.appName} code is ${code}.`,
      '',
      `It expires in ${minutes(settings.otpTtlSeconds)} and works once. If you did not ask for it, ignore this email.`,
    ].join('\n'),
  };
};

/**
 * The From line: the deployment's address, with the project's display name when it has one. The
 * address never changes (the stack's IAM allows only it); a name outside ASCII is sent as RFC 2047
 * encoded words, as SES requires.
 */
export const emailFrom = (settings: Pick<ProjectSettings, 'emailFromName'>, address: string): string => {
  const name = settings.emailFromName;
  if (!name) return address;
  // The settings schema already refuses quotes, backslashes and control characters in the name.
  if (/^[\x20-\x7e]*$/.test(name)) return `"${name}" <${address}>`;
  return `${encodedWords(name)} <${address}>`;
};

/** RFC 2047 B-encoding in words of at most 75 characters, never splitting a character. */
const encodedWords = (text: string): string => {
  const words: string[] = [];
  let chunk = '';
  for (const char of text) {
    if (Buffer.byteLength(chunk + char, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  if (chunk) words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join(' ');
};

const wholeMinutes = (seconds: number): number => Math.max(1, Math.round(seconds / 60));

const minutes = (seconds: number): string => {
  const m = wholeMinutes(seconds);
  return m === 1 ? '1 minute' : `${m} minutes`;
};
