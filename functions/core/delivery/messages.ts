import type { OutgoingCode } from '#core/otp/engine';

/** The words around a code. One place, so SMS, email and later WhatsApp say the same thing. */
export const smsText = ({ code, settings, appHash }: OutgoingCode): string => {
  const text = `${code} is your ${settings.appName} code. It expires in ${minutes(settings.otpTtlSeconds)}. Do not share it.`;
  // Android's SMS Retriever hands the message to the app only when it ends with the app's hash.
  return appHash === undefined ? text : `${text}\n${appHash}`;
};

/** The text of a WhatsApp code message when no approved Content template is configured. */
export const whatsappText = ({ code, settings }: OutgoingCode): string =>
  `${code} is your ${settings.appName} verification code. For your security, do not share this code.`;

export const emailContent = ({ code, settings }: OutgoingCode) => ({
  subject: `Your ${settings.appName} sign-in code`,
  text: [
    `Your ${settings.appName} code is ${code}.`,
    '',
    `It expires in ${minutes(settings.otpTtlSeconds)} and works once. If you did not ask for it, ignore this email.`,
  ].join('\n'),
});

const minutes = (seconds: number): string => {
  const m = Math.max(1, Math.round(seconds / 60));
  return m === 1 ? '1 minute' : `${m} minutes`;
};
