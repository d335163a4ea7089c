import { TwilioRestError, type TwilioMessage, type TwilioMessages, type TwilioMessagesOptions } from '../../functions/core/delivery/twilio-messages';

/**
 * Option "direct, with fetch": the same request as functions/core/delivery/twilio-messages.ts, sent
 * with the global fetch instead of node:https. Same bundle; the difference is that Node loads
 * undici (its fetch) on the first call, which lands on the first invocation.
 */
const formOf = (message: TwilioMessage) =>
  new URLSearchParams(
    Object.entries({
      To: message.to,
      From: message.from,
      MessagingServiceSid: message.messagingServiceSid,
      Body: message.body,
      ContentSid: message.contentSid,
      ContentVariables: message.contentVariables,
    }).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );

export const twilioMessages = (credentials: { accountSid: string; authToken: string }, options: TwilioMessagesOptions = {}): TwilioMessages => {
  const url = new URL(`/2010-04-01/Accounts/${encodeURIComponent(credentials.accountSid)}/Messages.json`, options.apiBaseUrl ?? 'https://api.twilio.com');
  const authorization = `Basic ${Buffer.from(`${credentials.accountSid}:${credentials.authToken}`).toString('base64')}`;
  return {
    create: async (message) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization, accept: 'application/json' },
        body: formOf(message),
        signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      });
      const json: unknown = await response.json().catch(() => undefined);
      const sid = (json as { sid?: unknown } | undefined)?.sid;
      if (response.ok && typeof sid === 'string') return { sid };
      throw new TwilioRestError(response.status, json);
    },
  };
};
